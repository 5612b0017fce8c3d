import { packageTestConfig } from '@valkka/vitest-preset';
import { defineConfig } from 'vitest/config';

export default defineConfig(packageTestConfig(import.meta.dirname));
