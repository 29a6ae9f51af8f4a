#!/usr/bin/env node
// A small MCP server over stdio, for the tools example: it keeps notes in a JSON file next to it
// (notes.json; delete it to start over). Shiioo imports its tools as notes.save and notes.list
// ([[mcp.servers]] in shiioo.toml). Protocol on stdout; nothing else is written there.
import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { Server } from '@modelcontextprotocol/sdk/server/index.js'
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js'
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js'

const FILE = process.env.NOTES_FILE ?? fileURLToPath(new URL('notes.json', import.meta.url))

const TOOLS = [
  {
    name: 'save',
    description: 'Saves a note with a title and a text; returns its number.',
    inputSchema: {
      type: 'object',
      properties: { title: { type: 'string', maxLength: 200 }, text: { type: 'string', maxLength: 20000 } },
      required: ['title', 'text'],
      additionalProperties: false,
    },
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  },
  {
    name: 'list',
    description: 'Lists the saved notes, oldest first.',
    inputSchema: { type: 'object', properties: {}, additionalProperties: false },
    annotations: { readOnlyHint: true, openWorldHint: false },
  },
]

async function load() {
  try {
    return JSON.parse(await readFile(FILE, 'utf8'))
  } catch {
    return []
  }
}

const server = new Server({ name: 'notes', version: '1.0.0' }, { capabilities: { tools: {} } })
server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: TOOLS }))
server.setRequestHandler(CallToolRequestSchema, async (request) => {
  const args = request.params.arguments ?? {}
  switch (request.params.name) {
    case 'save': {
      const notes = await load()
      const note = { number: notes.length + 1, title: String(args.title), text: String(args.text) }
      await writeFile(FILE, JSON.stringify([...notes, note], null, 2))
      const result = { saved: true, number: note.number }
      return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result }
    }
    case 'list': {
      const notes = { notes: await load() }
      return { content: [{ type: 'text', text: JSON.stringify(notes) }], structuredContent: notes }
    }
    default:
      throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${request.params.name}`)
  }
})
await server.connect(new StdioServerTransport())
