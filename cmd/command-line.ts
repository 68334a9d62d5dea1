/** The example programs' command lines: --help prints the usage; a mistake is one line and exit 2. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

export function commandLine<T extends Options>(program: string, usage: string, options: T) {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  try {
    return parseArgs({ args, options, strict: true }).values;
  } catch (err) {
    return fail(program, `${(err as Error).message}`);
  }
}

/** Ends the program with one line on stderr, no stack trace. */
export function fail(program: string, message: string): never {
  process.stderr.write(`${program}: ${message} (try --help)\n`);
  process.exit(2);
}
