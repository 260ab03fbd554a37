import type { Migration } from './types';

/** Named layouts the operator saves in the layout editor, to apply to archives and compositions. */
export const migration004: Migration = {
  version: 4,
  name: 'layouts',
  up(db) {
    db.exec(`
      CREATE TABLE layouts (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        resolution TEXT NOT NULL,
        layout TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `);
  },
};
