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
  extendedType: string | undefined; format: string | undefined;
}

/** One column of a result set; fields are decoded on first access. */
export class ColumnDefinition {
  readonly payload: Buffer;
  /** MariaDB extended metadata was negotiated: a block follows org_name. */
  readonly extended: boolean;
  private fields: Fields | undefined;

  constructor(payload: Buffer, extended = false) {
    this.payload = payload;
    this.extended = extended;
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
    let extendedType: string | undefined;
    let format: string | undefined;
    if (this.extended) {
      const length = r.lenenc();
      const end = r.pos + length;
      while (r.pos < end) {
        const id = r.u8();
        const value = r.lenencString();
        if (id === 0) extendedType = value;
        else if (id === 1) format = value;
      }
      r.pos = end;
    }
    r.lenenc(); // length of the fixed-length fields, 0x0c
    const charset = r.u16();
    const columnLength = r.u32();
    const type = r.u8();
    const flags = r.u16();
    const decimals = r.u8();
    this.fields = { catalog, schema, table, orgTable, name, orgName, charset, columnLength, type, flags, decimals, extendedType, format };
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
  /** MariaDB extended type name (uuid, inet6, ...), when negotiated. */
  get extendedType(): string | undefined { return this.f.extendedType; }
  /** MariaDB extended format (json), when negotiated. */
  get format(): string | undefined { return this.f.format; }
}
