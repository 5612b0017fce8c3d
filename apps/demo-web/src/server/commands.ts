/** The browser's playback commands, validated (zod) before they reach a session. */
import { z } from 'zod';

const time = z.number().finite().min(0).max(8.64e15);
const rate = z.number().finite();

export const Command = z.discriminatedUnion('cmd', [
  z.object({ cmd: z.literal('open'), cameras: z.array(z.number().int().min(0).max(0xffff)).max(256) }).strict(),
  z.object({ cmd: z.literal('seek'), time }).strict(),
  z.object({ cmd: z.literal('play'), rate: rate.optional() }).strict(),
  z.object({ cmd: z.literal('stop') }).strict(),
  z.object({ cmd: z.literal('rate'), rate }).strict(),
  z.object({ cmd: z.literal('step'), direction: z.union([z.literal(1), z.literal(-1)]) }).strict(),
  z.object({ cmd: z.literal('reverse'), rate: rate.optional() }).strict(),
  z.object({ cmd: z.literal('live') }).strict(),
]);
export type Command = z.infer<typeof Command>;

export const COMMAND_NAMES = ['open', 'seek', 'play', 'stop', 'rate', 'step', 'reverse', 'live'];

/** Parses one text message; returns the command or an error in the user's words. */
export function parseCommand(text: string): { ok: true; command: Command } | { ok: false; code: string; message: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, code: 'EJSON', message: `the message is not JSON: ${(err as Error).message}` };
  }
  const name = (value as { cmd?: unknown } | null)?.cmd;
  if (typeof value !== 'object' || value === null || typeof name !== 'string') {
    return { ok: false, code: 'ECOMMAND', message: `a command is an object with a "cmd" string (one of ${COMMAND_NAMES.join(', ')})` };
  }
  if (!COMMAND_NAMES.includes(name)) {
    return { ok: false, code: 'EUNKNOWN', message: `unknown command "${name.slice(0, 40)}" (known: ${COMMAND_NAMES.join(', ')})` };
  }
  const parsed = Command.safeParse(value);
  if (parsed.success) return { ok: true, command: parsed.data };
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? issue.path.join('.') : 'the command';
  return { ok: false, code: 'EINVALID', message: `${name}: ${where}: ${issue?.message ?? 'invalid'}` };
}
