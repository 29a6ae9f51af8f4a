/**
 * Finds where JSON text stops being JSON. JSON.parse's messages differ between Node versions and
 * do not always say where (Node 20: `Unexpected token '}', "{"a":}" is not valid JSON`), so
 * parseWorkflow runs this scanner on text JSON.parse rejected, for a message with a position.
 */
export function findJsonSyntaxError(text: string): { offset: number; message: string } | undefined {
  const scanner = new Scanner(text)
  try {
    scanner.skipSpace()
    scanner.value(0)
    scanner.skipSpace()
    if (scanner.pos < text.length) scanner.fail('unexpected text after the JSON value')
    return undefined
  } catch (error) {
    if (error instanceof JsonSyntaxError) return { offset: error.offset, message: error.message }
    throw error
  }
}

class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message)
  }
}

const MAX_NESTING = 512
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y

class Scanner {
  pos = 0
  constructor(private readonly text: string) {}

  fail(message: string, at = this.pos): never {
    throw new JsonSyntaxError(message, at)
  }

  skipSpace(): void {
    while (this.pos < this.text.length && ' \t\n\r'.includes(this.text[this.pos]!)) this.pos++
  }

  value(depth: number): void {
    if (depth > MAX_NESTING) this.fail(`values nested more than ${MAX_NESTING} levels deep`)
    const ch = this.text[this.pos]
    if (ch === undefined) this.fail('the text ends where a value should be')
    if (ch === '{') return this.object(depth)
    if (ch === '[') return this.array(depth)
    if (ch === '"') return this.string()
    if (ch === '-' || (ch >= '0' && ch <= '9')) return this.number()
    for (const word of ['true', 'false', 'null']) {
      if (this.text.startsWith(word, this.pos)) {
        this.pos += word.length
        return
      }
    }
    this.fail(`unexpected ${show(ch)} where a value should be`)
  }

  private object(depth: number): void {
    this.pos++
    this.skipSpace()
    if (this.text[this.pos] === '}') {
      this.pos++
      return
    }
    for (;;) {
      if (this.text[this.pos] !== '"') this.fail(`expected a "quoted" key, found ${this.here()}`)
      this.string()
      this.skipSpace()
      if (this.text[this.pos] !== ':') this.fail(`expected ':' after the key, found ${this.here()}`)
      this.pos++
      this.skipSpace()
      this.value(depth + 1)
      this.skipSpace()
      const ch = this.text[this.pos]
      this.pos++
      if (ch === '}') return
      if (ch !== ',') this.fail(`expected ',' or '}' after a value, found ${this.here(-1)}`, this.pos - 1)
      this.skipSpace()
      if (this.text[this.pos] === '}') this.fail("a trailing ',' before '}'", this.pos)
    }
  }

  private array(depth: number): void {
    this.pos++
    this.skipSpace()
    if (this.text[this.pos] === ']') {
      this.pos++
      return
    }
    for (;;) {
      this.value(depth + 1)
      this.skipSpace()
      const ch = this.text[this.pos]
      this.pos++
      if (ch === ']') return
      if (ch !== ',') this.fail(`expected ',' or ']' after a value, found ${this.here(-1)}`, this.pos - 1)
      this.skipSpace()
      if (this.text[this.pos] === ']') this.fail("a trailing ',' before ']'", this.pos)
    }
  }

  private string(): void {
    const start = this.pos
    this.pos++
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos]!
      if (ch === '"') {
        this.pos++
        return
      }
      if (ch < ' ') this.fail('a control character (such as a raw newline) inside a string')
      if (ch === '\\') {
        const next = this.text[this.pos + 1]
        if (next === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(this.pos + 2, this.pos + 6))) this.fail('a bad \\u escape')
          this.pos += 6
          continue
        }
        if (next === undefined || !'"\\/bfnrt'.includes(next)) this.fail('a bad escape in a string')
        this.pos += 2
        continue
      }
      this.pos++
    }
    this.fail('a string that is never closed', start)
  }

  private number(): void {
    NUMBER.lastIndex = this.pos
    const match = NUMBER.exec(this.text)
    if (!match || match[0] === '-') this.fail('a malformed number')
    this.pos += match[0].length
  }

  private here(shift = 0): string {
    const ch = this.text[this.pos + shift]
    return ch === undefined ? 'the end of the text' : show(ch)
  }
}

function show(ch: string): string {
  return ch === '\n' ? 'a line break' : `'${ch}'`
}
