/**
 * PlainBuffer, Tablestore's row encoding (shared/reference/tablestore.md §7; spec help.aliyun.com/document_detail/50600.html).
 *
 * Requests are decoded here, not with the SDK reader: the SDK's PlainBufferCodedInputStream cannot parse
 * an op byte (`cell_type is not defined`, plain_buffer_coded_stream.js:196, pitfall 1) nor an INF_MIN /
 * INF_MAX key (`Unsupported primary key type`, plain_buffer_coded_stream.js:57), and UpdateRow and GetRange
 * need both. One decoder for every request buffer keeps one set of rules; a test checks it reads PutRow,
 * PK-only and DeleteRow buffers exactly as the SDK reader does. Response rows are written with the SDK's
 * own PlainBufferBuilder (plian_buffer_builder.js), so they are what the SDK reader expects.
 */
import '../../cloud/tablestore-globals';
import TableStore from 'tablestore';
import { invalid } from './errors';

/** A cell value as stored. Integers are bigint so int64 survives; a double is never equal to an integer. */
export type Value =
  | { readonly type: 'INTEGER'; readonly value: bigint }
  | { readonly type: 'DOUBLE'; readonly value: number }
  | { readonly type: 'BOOLEAN'; readonly value: boolean }
  | { readonly type: 'STRING'; readonly value: string }
  | { readonly type: 'BINARY'; readonly value: Buffer };

export type KeyValue = Extract<Value, { type: 'INTEGER' | 'STRING' | 'BINARY' }>;
/** A primary key value in a request: a real value, a range sentinel, or "assign one" (auto-increment). */
export type RequestKeyValue = KeyValue | { readonly type: 'INF_MIN' } | { readonly type: 'INF_MAX' } | { readonly type: 'AUTO_INCREMENT' };

export interface KeyColumn<V = RequestKeyValue> {
  readonly name: string;
  readonly value: V;
}

/** Cell ops (tag 0x06); a cell without one is a PUT (reference §7). */
export const CellOp = { DeleteAllVersions: 0x1, DeleteOneVersion: 0x3, Increment: 0x4 } as const;
export type CellOpCode = (typeof CellOp)[keyof typeof CellOp];

export interface DecodedCell {
  readonly name: string;
  readonly value?: Value;
  readonly op?: CellOpCode;
  /** ms */
  readonly timestamp?: number;
}

export interface DecodedRow {
  readonly primaryKey: KeyColumn[];
  readonly cells: DecodedCell[];
  readonly deleteMarker: boolean;
  /** Offset just after the row checksum (what follows is writer padding, pitfall 2). */
  readonly end: number;
}

const Tag = {
  RowPk: 0x1,
  RowData: 0x2,
  Cell: 0x3,
  CellName: 0x4,
  CellValue: 0x5,
  CellType: 0x6,
  CellTimestamp: 0x7,
  DeleteMarker: 0x8,
  RowChecksum: 0x9,
  CellChecksum: 0xa,
} as const;
const Header = 0x75;
const Vt = { Integer: 0x0, Double: 0x1, Boolean: 0x2, String: 0x3, Null: 0x6, Blob: 0x7, InfMin: 0x9, InfMax: 0xa, AutoIncrement: 0xb } as const;

/** CRC-8, polynomial 0x07, init 0, no reflection (plain_buffer_crc8.js). */
const CRC8 = (() => {
  const table = new Uint8Array(256);
  for (let i = 0; i < 256; i += 1) {
    let c = i;
    for (let b = 0; b < 8; b += 1) c = c & 0x80 ? ((c << 1) ^ 0x07) & 0xff : (c << 1) & 0xff;
    table[i] = c;
  }
  return table;
})();
function crc(c: number, bytes: Uint8Array | readonly number[]): number {
  for (const b of bytes) c = CRC8[(c ^ b) & 0xff] as number;
  return c;
}
function u32le(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw invalid('Invalid PlainBuffer: unexpected end of the buffer.');
  }
  peek(): number | undefined {
    return this.pos < this.buf.length ? this.buf[this.pos] : undefined;
  }
  byte(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  expect(tag: number, what: string): void {
    const got = this.byte();
    if (got !== tag) throw invalid(`Invalid PlainBuffer: expected ${what} (tag 0x${tag.toString(16)}) at offset ${this.pos - 1}, got 0x${got.toString(16)}.`);
  }
}

/**
 * Reads a typed value: type byte + payload, the layout after tag 0x05's u32 and in a column condition's
 * `column_value` (reference §7: "type byte + payload with no u32 prefix"). Returns the value and the
 * bytes the cell checksum covers (type byte, then u32 length for string/blob, then the payload).
 */
function readTypedValue(r: Reader, payloadLimit?: number): { value: RequestKeyValue | Value; crcBytes: number[] } {
  const type = r.byte();
  switch (type) {
    case Vt.Integer: {
      const b = r.bytes(8);
      return { value: { type: 'INTEGER', value: b.readBigInt64LE(0) }, crcBytes: [type, ...b] };
    }
    case Vt.Double: {
      const b = r.bytes(8);
      return { value: { type: 'DOUBLE', value: b.readDoubleLE(0) }, crcBytes: [type, ...b] };
    }
    case Vt.Boolean: {
      const b = r.byte();
      return { value: { type: 'BOOLEAN', value: b !== 0 }, crcBytes: [type, b !== 0 ? 1 : 0] };
    }
    case Vt.String:
    case Vt.Blob: {
      const n = r.u32();
      if (payloadLimit !== undefined && n + 5 > payloadLimit) throw invalid('Invalid PlainBuffer: value length exceeds its cell.');
      const b = r.bytes(n);
      const value: Value = type === Vt.String ? { type: 'STRING', value: b.toString('utf8') } : { type: 'BINARY', value: Buffer.from(b) };
      return { value, crcBytes: [type, ...u32le(n), ...b] };
    }
    case Vt.InfMin:
      return { value: { type: 'INF_MIN' }, crcBytes: [type] };
    case Vt.InfMax:
      return { value: { type: 'INF_MAX' }, crcBytes: [type] };
    case Vt.AutoIncrement:
      return { value: { type: 'AUTO_INCREMENT' }, crcBytes: [type] };
    default:
      throw invalid(`Invalid PlainBuffer: unsupported value type 0x${type.toString(16)}.`);
  }
}

/** Decodes one column-condition value (SingleColumnValueFilter.column_value, reference §7). */
export function decodeConditionValue(bytes: Uint8Array): Value {
  const r = new Reader(Buffer.from(bytes));
  const { value } = readTypedValue(r);
  if (value.type === 'INF_MIN' || value.type === 'INF_MAX' || value.type === 'AUTO_INCREMENT') {
    throw invalid('A column condition value must be INTEGER, DOUBLE, BOOLEAN, STRING or BINARY.');
  }
  return value;
}

function readCell(r: Reader, inPrimaryKey: boolean): { cell: DecodedCell; cellCrc: number } {
  r.expect(Tag.Cell, 'a cell');
  r.expect(Tag.CellName, 'a cell name');
  const nameLength = r.u32();
  const nameBytes = r.bytes(nameLength);
  const name = nameBytes.toString('utf8');
  let c = crc(0, nameBytes);
  let value: RequestKeyValue | Value | undefined;
  let op: number | undefined;
  let timestamp: bigint | undefined;
  let tsBytes: Buffer | undefined;
  for (;;) {
    const tag = r.byte();
    if (tag === Tag.CellValue) {
      const length = r.u32();
      const start = r.pos;
      const read = readTypedValue(r, length);
      if (r.pos - start !== length) throw invalid(`Invalid PlainBuffer: value of cell "${name}" has a wrong length.`);
      value = read.value;
      c = crc(c, read.crcBytes);
    } else if (tag === Tag.CellType) {
      op = r.byte();
    } else if (tag === Tag.CellTimestamp) {
      tsBytes = r.bytes(8);
      timestamp = tsBytes.readBigInt64LE(0);
    } else if (tag === Tag.CellChecksum) {
      break;
    } else {
      throw invalid(`Invalid PlainBuffer: unexpected tag 0x${tag.toString(16)} in cell "${name}".`);
    }
  }
  // Checksum order: name, value, timestamp, op (plain_buffer_coded_stream.js writeUpdateColumn).
  if (tsBytes !== undefined) c = crc(c, tsBytes);
  if (op !== undefined) c = crc(c, [op]);
  const sent = r.byte();
  if (sent !== c) throw invalid(`Invalid PlainBuffer: checksum mismatch in cell "${name}".`);
  if (inPrimaryKey) {
    if (value === undefined) throw invalid(`Primary key column "${name}" has no value.`);
    if (value.type === 'DOUBLE' || value.type === 'BOOLEAN') throw invalid(`Primary key column "${name}" must be INTEGER, STRING or BINARY.`);
    if (op !== undefined || timestamp !== undefined) throw invalid(`Primary key column "${name}" cannot carry an op or a timestamp.`);
  } else {
    if (value !== undefined && (value.type === 'INF_MIN' || value.type === 'INF_MAX' || value.type === 'AUTO_INCREMENT')) {
      throw invalid(`Attribute column "${name}" cannot hold INF_MIN, INF_MAX or AUTO_INCREMENT.`);
    }
    if (op !== undefined && op !== CellOp.DeleteAllVersions && op !== CellOp.DeleteOneVersion && op !== CellOp.Increment) {
      throw invalid(`Attribute column "${name}" has an unknown op 0x${op.toString(16)}.`);
    }
  }
  const cell: DecodedCell = {
    name,
    ...(value === undefined ? {} : { value: value as Value }),
    ...(op === undefined ? {} : { op: op as CellOpCode }),
    ...(timestamp === undefined ? {} : { timestamp: Number(timestamp) }),
  };
  return { cell, cellCrc: c };
}

/**
 * Decodes one PlainBuffer row (header included): PK cells, attribute cells with ops and timestamps,
 * the delete marker, and both levels of CRC-8. Bytes after the row checksum are ignored (pitfall 2).
 */
export function decodeRow(buffer: Uint8Array): DecodedRow {
  const r = new Reader(Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength));
  if (buffer.byteLength < 4 || r.u32() !== Header) throw invalid('Invalid PlainBuffer: bad header.');
  const primaryKey: KeyColumn[] = [];
  const cells: DecodedCell[] = [];
  let rowCrc = 0;
  let deleteMarker = false;
  r.expect(Tag.RowPk, 'the primary key');
  while (r.peek() === Tag.Cell) {
    const { cell, cellCrc } = readCell(r, true);
    primaryKey.push({ name: cell.name, value: cell.value as RequestKeyValue });
    rowCrc = crc(rowCrc, [cellCrc]);
  }
  if (r.peek() === Tag.RowData) {
    r.byte();
    while (r.peek() === Tag.Cell) {
      const { cell, cellCrc } = readCell(r, false);
      cells.push(cell);
      rowCrc = crc(rowCrc, [cellCrc]);
    }
  }
  if (r.peek() === Tag.DeleteMarker) {
    r.byte();
    deleteMarker = true;
  }
  rowCrc = crc(rowCrc, [deleteMarker ? 1 : 0]);
  r.expect(Tag.RowChecksum, 'the row checksum');
  const sent = r.byte();
  if (sent !== rowCrc) throw invalid('Invalid PlainBuffer: row checksum mismatch.');
  return { primaryKey, cells, deleteMarker, end: r.pos };
}

// ------------------------------------------------------------------ encoding (SDK builder)

type SdkKey = TableStore.PrimaryKeyInput;
type SdkAttr = TableStore.AttributeInput;

export function toSdkValue(v: Value): SdkAttr {
  switch (v.type) {
    case 'INTEGER':
      // Long.fromNumber would lose precision above 2^53; int64-buffer parses decimal strings exactly.
      return TableStore.Long.fromString(v.value.toString());
    case 'DOUBLE':
      return v.value; // the builder writes a JS number as DOUBLE (reference §7)
    default:
      return v.value;
  }
}

/** One version of an attribute column to encode. */
export interface OutCell {
  readonly name: string;
  readonly value: Value;
  readonly timestamp: number;
}

/** A response row (no op bytes, pitfall 1), trimmed to its checksum so rows can be concatenated. */
export function encodeRow(primaryKey: readonly KeyColumn<KeyValue>[], cells: readonly OutCell[]): Buffer {
  const pk = primaryKey.map((c) => ({ [c.name]: toSdkValue(c.value) as SdkKey }));
  const attrs = cells.map((c) => ({ [c.name]: toSdkValue(c.value), timestamp: c.timestamp }));
  const raw = Buffer.from(TableStore.PlainBufferBuilder.serializeForPutRow(pk, attrs));
  return raw.subarray(0, decodeRow(raw).end);
}

/** A PK-only buffer (GetRange's next_start_primary_key). */
export function encodePrimaryKey(primaryKey: readonly KeyColumn<KeyValue>[]): Buffer {
  const raw = Buffer.from(TableStore.PlainBufferBuilder.serializePrimaryKey(primaryKey.map((c) => ({ [c.name]: toSdkValue(c.value) as SdkKey }))));
  return raw.subarray(0, decodeRow(raw).end);
}

/** GetRange `rows`: the header once, then every row without its 4-byte header (reference §7). */
export function concatRows(rows: readonly Buffer[]): Buffer {
  if (rows.length === 0) return Buffer.alloc(0);
  return Buffer.concat([(rows[0] as Buffer).subarray(0, 4), ...rows.map((r) => r.subarray(4))]);
}

/** A value as plain JSON, for calls() and rows() snapshots. */
export function valueToJson(v: Value | RequestKeyValue): unknown {
  switch (v.type) {
    case 'INTEGER':
      return Number.isSafeInteger(Number(v.value)) ? Number(v.value) : v.value.toString();
    case 'BINARY':
      return { base64: v.value.toString('base64') };
    case 'INF_MIN':
    case 'INF_MAX':
    case 'AUTO_INCREMENT':
      return v.type;
    default:
      return v.value;
  }
}
