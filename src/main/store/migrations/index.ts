import { migration001 } from './001_initial';
import { migration002 } from './002_delivery';
import { migration003 } from './003_compositions';
import { migration004 } from './004_layouts';
import { migration005 } from './005_webhook_private_network';
import type { Migration } from './types';

/** Every migration, in order. Add a new numbered file; never edit one that has shipped. */
export const MIGRATIONS: readonly Migration[] = [
  migration001,
  migration002,
  migration003,
  migration004,
  migration005,
];
