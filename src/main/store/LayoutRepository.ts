import type BetterSqlite3 from 'better-sqlite3';

/** A layout saved by name in the layout editor. */
export interface SavedLayout {
  id: string;
  name: string;
  resolution: string;
  layout: unknown;
  createdAt: number;
  updatedAt: number;
}

interface Row {
  id: string;
  name: string;
  resolution: string;
  layout: string;
  created_at: number;
  updated_at: number;
}

const toLayout = (row: Row): SavedLayout => ({
  id: row.id,
  name: row.name,
  resolution: row.resolution,
  layout: JSON.parse(row.layout) as unknown,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export class LayoutRepository {
  constructor(private readonly db: BetterSqlite3.Database) {}

  list(): SavedLayout[] {
    return (this.db.prepare('SELECT * FROM layouts ORDER BY name').all() as Row[]).map(toLayout);
  }

  get(id: string): SavedLayout | null {
    const row = this.db.prepare('SELECT * FROM layouts WHERE id = ?').get(id) as Row | undefined;
    return row === undefined ? null : toLayout(row);
  }

  byName(name: string): SavedLayout | null {
    const row = this.db.prepare('SELECT * FROM layouts WHERE name = ?').get(name) as Row | undefined;
    return row === undefined ? null : toLayout(row);
  }

  save(layout: SavedLayout): void {
    this.db
      .prepare(
        `INSERT INTO layouts (id, name, resolution, layout, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, resolution = excluded.resolution,
           layout = excluded.layout, updated_at = excluded.updated_at`,
      )
      .run(
        layout.id,
        layout.name,
        layout.resolution,
        JSON.stringify(layout.layout),
        layout.createdAt,
        layout.updatedAt,
      );
  }

  delete(id: string): boolean {
    return this.db.prepare('DELETE FROM layouts WHERE id = ?').run(id).changes > 0;
  }
}
