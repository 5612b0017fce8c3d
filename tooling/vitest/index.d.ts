export function packageTestConfig(packageDir: string, extra?: Record<string, unknown>): { test: Record<string, unknown> };
