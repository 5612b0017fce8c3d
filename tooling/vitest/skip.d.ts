export function hasCommand(cmd: string, args?: string[]): boolean;
export const isRoot: boolean;
export function skipReason(suite: string, needs: Array<[boolean, string]>): string | undefined;
