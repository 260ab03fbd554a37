import { migration001 } from './001_initial';
import type { Migration } from './types';

/** Every migration, in order. Add a new numbered file; never edit one that has shipped. */
export const MIGRATIONS: readonly Migration[] = [migration001];
