import { Lexer } from 'yaml'

/**
 * How deeply YAML or JSON text nests its lists and maps, found without building it: the YAML
 * parser and every later pass over the value recurse once per level, and a document nested a few
 * hundred levels deep exhausts the stack (the V8 regular expression compiler then aborts the
 * whole process instead of throwing). The lexer is a state machine (no recursion), so this is
 * linear in the text whatever its shape.
 *
 * The estimate counts open flow brackets plus the block indentation levels open at each token,
 * where a scalar after `-`, `?` or `:` counts as one more: at most one more than the depth of the
 * value the text describes, and never less than half of it (a block list may start at its key's
 * column). `exceeded` says where the estimate first passed `cap`.
 */
export function textNesting(text: string, cap: number): { depth: number; exceeded: number | null } {
  const columns: number[] = []
  let flow = 0
  let col = 0
  let offset = 0
  let lineStart = true
  let afterIndicator = false
  let deepest = 0
  for (const token of new Lexer().lex(text)) {
    const first = token.charCodeAt(0)
    if (token.length === 1 && first < 0x20 && token !== '\n') {
      // the lexer's zero-width markers; \x02 starts a document
      if (token === '\x02') {
        columns.length = 0
        flow = 0
      }
      continue
    }
    if (token === '\ufeff') continue
    if (token === '\n' || token === '\r\n') {
      col = 0
      offset += token.length
      lineStart = true
      afterIndicator = false
      continue
    }
    if (first === 0x20 || first === 0x09 || first === 0x23) {
      // indentation, spaces, a comment
      col += token.length
      offset += token.length
      continue
    }
    if (flow === 0 && (lineStart || afterIndicator)) {
      if (lineStart) while (columns.length > 0 && columns[columns.length - 1]! > col) columns.pop()
      if (columns.length === 0 || columns[columns.length - 1]! < col) columns.push(col)
    }
    if (token === '{' || token === '[') flow++
    else if ((token === '}' || token === ']') && flow > 0) flow--
    deepest = Math.max(deepest, columns.length + flow)
    if (deepest > cap) return { depth: deepest, exceeded: offset }
    afterIndicator = flow === 0 && (token === '-' || token === '?' || token === ':')
    lineStart = false
    const newline = token.lastIndexOf('\n')
    if (newline < 0) col += token.length
    else {
      // a block scalar (or a multi-line plain one) ends at a line's end
      col = token.length - newline - 1
      lineStart = newline === token.length - 1
    }
    offset += token.length
  }
  return { depth: deepest, exceeded: null }
}
