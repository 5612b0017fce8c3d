/** Stable codes of the errors @valkka/fleet throws; callers (the server's routes) branch on `code`. */
export type FleetErrorCode =
  | 'EARGUMENT' // a bad argument or query (names which)
  | 'ENATS' // the NATS cluster cannot be reached or refused the request
  | 'ENOTFOUND' // no such node, filesystem, archived block
  | 'ECORRUPT' // bytes that fail their checksums (archive object, fetched block)
  | 'EREMOTE' // a remote node answered with an error or not at all
  | 'EREADONLY' // a write through a mirror device
  | 'EABORTED'; // the caller gave up (connectFleet's signal) before it finished

export class FleetError extends Error {
  override name = 'FleetError';
  constructor(
    readonly code: FleetErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The HTTP status a route answers with for this error. */
  get httpStatus(): number {
    return { EARGUMENT: 400, ENOTFOUND: 404, ECORRUPT: 502, EREMOTE: 502, ENATS: 503, EREADONLY: 405, EABORTED: 503 }[this.code];
  }
}
