/** A `sqlgate` subcommand: one module per command in `proxy/cli/commands/`. */
export interface Command {
  /** One line for `sqlgate --help`. */
  readonly summary: string;
  /** Full usage text for `sqlgate <command> --help`. */
  readonly usage: string;
  /** Runs the command; resolves to the process exit code. */
  run(args: readonly string[]): Promise<number>;
}

/** True when the arguments ask for help. */
export function wantsHelp(args: readonly string[]): boolean {
  return args.includes('--help') || args.includes('-h');
}
