/** A NATS operation that has not settled after `ms` becomes an ENATS error (a stuck request never hangs a caller). */
import { FleetError } from './errors.js';

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FleetError('ENATS', `${what}: no answer from NATS in ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
