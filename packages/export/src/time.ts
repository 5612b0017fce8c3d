/** Times as users give them: milliseconds since the epoch, or ISO 8601. */
import { ExportError } from './errors.js';

/**
 * Parses `text` as an integer count of milliseconds since the epoch or an ISO 8601 date-time
 * (a date alone or a time without a zone is refused: it would depend on the machine's zone).
 * `what` names the input in the error (e.g. "--from").
 */
export function parseTime(text: string, what: string): number {
  const s = text.trim();
  if (/^\d+$/.test(s)) {
    const ms = Number(s);
    if (!Number.isSafeInteger(ms)) throw new ExportError('EARGUMENT', `${what}: ${text} ms is out of range`);
    return ms;
  }
  const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;
  if (!iso.test(s)) {
    throw new ExportError('EARGUMENT', `${what}: '${text}' is neither milliseconds since the epoch nor an ISO 8601 time with a zone (e.g. 2026-11-30T20:08:33.120Z)`);
  }
  const ms = Date.parse(s);
  if (Number.isNaN(ms)) throw new ExportError('EARGUMENT', `${what}: '${text}' is not a valid date`);
  return ms;
}
