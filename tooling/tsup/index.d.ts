import type { Options } from 'tsup';
export function packageBuild(extra?: Options): Options;
