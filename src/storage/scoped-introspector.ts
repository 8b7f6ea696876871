/**
 * A PostgreSQL introspector that looks at one schema only.
 *
 * Kysely's own PostgreSQL introspector reads every column of every table in every schema of the database, and
 * calls `pg_get_serial_sequence` on each. When another schema of the same database is being changed at that
 * moment (another Tessera deployment migrating, a test run dropping its schema), that query fails with
 * "column … does not exist" for a table it is not even interested in. Kysely's migrator introspects before every
 * run, so a Tessera instance could fail to start because a neighbour was migrating. Scoped to our own schema, the
 * query sees only tables that our migrator's advisory lock already serialises.
 */
import {
  type DatabaseIntrospector,
  type DatabaseMetadata,
  type DatabaseMetadataOptions,
  DEFAULT_MIGRATION_LOCK_TABLE,
  DEFAULT_MIGRATION_TABLE,
  type Kysely,
  PostgresDialect,
  type PostgresDialectConfig,
  type SchemaMetadata,
  sql,
  type TableMetadata,
} from "kysely";

interface ColumnRow {
  table_name: string;
  table_type: string;
  column_name: string;
  data_type: string;
  udt_schema: string;
  is_nullable: string;
  column_default: string | null;
  is_identity: string;
}

export class SchemaScopedIntrospector implements DatabaseIntrospector {
  readonly #db: Kysely<unknown>;
  readonly #schema: string;

  constructor(db: Kysely<unknown>, schema: string) {
    this.#db = db;
    this.#schema = schema;
  }

  async getSchemas(): Promise<SchemaMetadata[]> {
    const rows = await sql<{ nspname: string }>`select nspname from pg_catalog.pg_namespace`.execute(
      this.#db,
    );
    return rows.rows.map((r) => ({ name: r.nspname }));
  }

  async getTables(
    options: DatabaseMetadataOptions = { withInternalKyselyTables: false },
  ): Promise<TableMetadata[]> {
    // information_schema rows are computed per table from the catalog of this schema only.
    const result = await sql<ColumnRow>`
      select c.table_name, t.table_type, c.column_name, c.udt_name as data_type, c.udt_schema, c.is_nullable,
             c.column_default, c.is_identity
        from information_schema.columns c
        join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
       where c.table_schema = ${this.#schema}
       order by c.table_name, c.ordinal_position`.execute(this.#db);
    const tables = new Map<string, TableMetadata & { columns: TableMetadata["columns"][number][] }>();
    for (const row of result.rows) {
      if (
        !options.withInternalKyselyTables &&
        (row.table_name === DEFAULT_MIGRATION_TABLE || row.table_name === DEFAULT_MIGRATION_LOCK_TABLE)
      ) {
        continue;
      }
      let table = tables.get(row.table_name);
      if (!table) {
        table = {
          name: row.table_name,
          schema: this.#schema,
          isView: row.table_type === "VIEW",
          columns: [],
        };
        tables.set(row.table_name, table);
      }
      table.columns.push({
        name: row.column_name,
        dataType: row.data_type,
        dataTypeSchema: row.udt_schema,
        isNullable: row.is_nullable === "YES",
        isAutoIncrementing: row.is_identity === "YES" || (row.column_default ?? "").startsWith("nextval("),
        hasDefaultValue: row.column_default !== null || row.is_identity === "YES",
      });
    }
    return [...tables.values()];
  }

  async getMetadata(options?: DatabaseMetadataOptions): Promise<DatabaseMetadata> {
    return { tables: await this.getTables(options) };
  }
}

/** Kysely's PostgreSQL dialect with introspection limited to `schema`. */
export class SchemaScopedPostgresDialect extends PostgresDialect {
  readonly #schema: string;

  constructor(config: PostgresDialectConfig, schema: string) {
    super(config);
    this.#schema = schema;
  }

  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SchemaScopedIntrospector(db, this.#schema);
  }
}
