/**
 * Column definitions (Protocol::ColumnDefinition41), decoded lazily: the
 * relay keeps the payload and reads a field only when someone asks (masking
 * needs org_table / org_name to cross-check provenance).
 * Reference: https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_query_response_text_resultset_column_definition.html
 */
import { PayloadReader } from './packet-reader.js';

interface Fields {
  catalog: string; schema: string; table: string; orgTable: string; name: string; orgName: string;
  charset: number; columnLength: number; type: number; flags: number; decimals: number;
}

/** One column of a result set; fields are decoded on first access. */
export class ColumnDefinition {
  readonly payload: Buffer;
  private fields: Fields | undefined;

  constructor(payload: Buffer) {
    this.payload = payload;
  }

  private get f(): Fields {
    if (this.fields) return this.fields;
    const r = new PayloadReader(this.payload);
    const catalog = r.lenencString();
    const schema = r.lenencString();
    const table = r.lenencString();
    const orgTable = r.lenencString();
    const name = r.lenencString();
    const orgName = r.lenencString();
    r.lenenc(); // length of the fixed-length fields, 0x0c
    const charset = r.u16();
    const columnLength = r.u32();
    const type = r.u8();
    const flags = r.u16();
    const decimals = r.u8();
    this.fields = { catalog, schema, table, orgTable, name, orgName, charset, columnLength, type, flags, decimals };
    return this.fields;
  }

  get catalog(): string { return this.f.catalog; }
  get schema(): string { return this.f.schema; }
  get table(): string { return this.f.table; }
  get orgTable(): string { return this.f.orgTable; }
  get name(): string { return this.f.name; }
  get orgName(): string { return this.f.orgName; }
  get charset(): number { return this.f.charset; }
  get columnLength(): number { return this.f.columnLength; }
  get type(): number { return this.f.type; }
  get flags(): number { return this.f.flags; }
  get decimals(): number { return this.f.decimals; }
}
