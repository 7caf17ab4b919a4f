#!/usr/bin/env node
/**
 * `sqlgate <command> [args]`. Commands are the modules in ./commands/, found
 * at run time, so adding a command touches no shared file.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Command } from './command.js';

const commandsDir = join(dirname(fileURLToPath(import.meta.url)), 'commands');

function commandNames(): string[] {
  return readdirSync(commandsDir)
    .filter((f) => f.endsWith('.js'))
    .map((f) => f.slice(0, -3))
    .sort();
}

async function load(name: string): Promise<Command | undefined> {
  if (!commandNames().includes(name)) return undefined;
  const mod = (await import(pathToFileURL(join(commandsDir, `${name}.js`)).href)) as { command: Command };
  return mod.command;
}

async function help(): Promise<void> {
  const lines = ['usage: sqlgate <command> [options]', '', 'commands:'];
  for (const name of commandNames()) {
    const cmd = await load(name);
    if (cmd) lines.push(`  ${name.padEnd(10)} ${cmd.summary}`);
  }
  lines.push('', "Run 'sqlgate <command> --help' for a command's options.");
  console.log(lines.join('\n'));
}

async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    await help();
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    console.log('sqlgate 0.1.0');
    return 0;
  }
  const cmd = await load(name);
  if (!cmd) {
    console.error(`sqlgate: unknown command '${name}'. Run 'sqlgate --help'.`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.usage);
    return 0;
  }
  return cmd.run(rest);
}

process.exitCode = await main(process.argv.slice(2));
