/**
 * Types for the part of `tablestore` 5.6.5 (which ships none) that the local Tablestore, its tests and
 * the operation ledger use, written from its lib/client.js, lib/filter.js, lib/metadata.js, lib/long.js
 * and lib/protocol/decoder.js (shared/reference/tablestore.md §3-§11).
 *
 * Every Client method returns a Promise when no callback is given (client.js makeRequest:118-134).
 * Failures reject with an Error whose `code` is the HTTP status NUMBER and whose `message` is the raw
 * protobuf Error body read as UTF-8 plus " requestId:<id>" (the SDK 5.6.5 quirk, reference §4), or
 * `code: 'NetworkingError'` when no answer arrived.
 */
declare module 'tablestore' {
  /** int64-buffer's Int64LE: what TableStore.Long.fromNumber returns and integer cells decode to. */
  interface Int64LE {
    toNumber(): number;
    toString(radix?: number): string;
    toBuffer(): Buffer;
  }

  type PrimaryKeyInput = Int64LE | string | Buffer | typeof INF_MIN | typeof INF_MAX | typeof PK_AUTO_INCR;
  type AttributeInput = Int64LE | string | Buffer | number | boolean;
  /**
   * One object per PK column, in schema order: `[{ id: 'a' }, { n: Long.fromNumber(1) }]`. (`undefined` is
   * admitted only so that TypeScript accepts such array literals, whose inferred element type is a union.)
   */
  type PrimaryKey = Array<Record<string, PrimaryKeyInput | undefined>>;
  /** One object per attribute: `{ name: value }`, optionally with `timestamp` (ms). */
  type AttributeColumns = Array<Record<string, AttributeInput | undefined> & { timestamp?: number }>;
  type UpdateOfAttributeColumns = Array<
    | { PUT: AttributeColumns }
    | { DELETE: Array<Record<string, number>> }
    | { DELETE_ALL: string[] }
    | { INCREMENT: AttributeColumns }
  >;

  interface DecodedPrimaryKeyColumn {
    name: string;
    value: Int64LE | string | Buffer;
  }
  interface DecodedAttribute {
    columnName: string;
    columnValue: Int64LE | string | Buffer | number | boolean;
    timestamp: Int64LE;
  }
  /** `{}` when the row does not exist (decoder.js:44-53). */
  interface DecodedRow {
    primaryKey?: DecodedPrimaryKeyColumn[];
    attributes?: DecodedAttribute[];
  }
  interface ConsumedCapacity {
    capacityUnit: { read?: number; write?: number };
  }
  interface RowResult {
    consumed: ConsumedCapacity;
    row: DecodedRow;
    RequestId?: string;
  }
  interface BatchRowResult {
    isOk: boolean;
    errorCode: string | null;
    errorMessage: string | null;
    tableName: string;
    capacityUnit: unknown;
    primaryKey: DecodedPrimaryKeyColumn[] | null;
    attributes: DecodedAttribute[] | null;
  }
  interface ReturnContentInput {
    returnType: number;
    returnColumns?: string[];
  }
  interface TableOptionsInput {
    timeToLive: number;
    maxVersions: number;
    allowUpdate?: boolean;
    maxTimeDeviation?: number;
  }
  interface TimeRangeInput {
    startTime?: number;
    endTime?: number;
    specificTime?: number;
  }

  interface ClientConfig {
    accessKeyId: string;
    secretAccessKey?: string;
    accessKeySecret?: string;
    stsToken?: string;
    securityToken?: string;
    endpoint: string;
    instancename: string;
    /** Process-global in 5.6.5 (request.js:127-129). */
    maxRetries?: number;
    /** agent: copied onto each request's options (lib/http/node.js, TableStore.util.update), replacing the SDK's own HTTPS agent. */
    httpOptions?: { timeout?: number; maxSockets?: number; agent?: import('node:http').Agent };
  }

  class Client {
    constructor(config: ClientConfig);
    config: ClientConfig & Record<string, unknown>;
    createTable(params: {
      tableMeta: { tableName: string; primaryKey: Array<{ name: string; type: 'INTEGER' | 'STRING' | 'BINARY' | number; option?: 'AUTO_INCREMENT' | number }> };
      reservedThroughput: { capacityUnit: { read: number; write: number } };
      tableOptions: TableOptionsInput;
    }): Promise<Record<string, never>>;
    listTable(params?: Record<string, never>): Promise<{ tableNames: string[] }>;
    deleteTable(params: { tableName: string }): Promise<Record<string, never>>;
    updateTable(params: { tableName: string; tableOptions: Partial<TableOptionsInput>; reservedThroughput?: { capacityUnit: { read: number; write: number } } }): Promise<{
      tableOptions: { timeToLive?: number; maxVersions?: number };
    }>;
    describeTable(params: { tableName: string }): Promise<{
      tableMeta: { tableName: string; primaryKey: Array<{ name: string; type: number; option?: number }> };
      tableOptions: { timeToLive?: number; maxVersions?: number; deviationCellVersionInSec?: unknown; allowUpdate?: boolean };
      tableStatus: number;
      reservedThroughputDetails: { capacityUnit: { read?: number; write?: number } };
    }>;
    getRow(params: {
      tableName: string;
      primaryKey: PrimaryKey;
      columnsToGet?: string[];
      maxVersions?: number;
      timeRange?: TimeRangeInput;
      columnFilter?: ColumnCondition;
    }): Promise<RowResult>;
    putRow(params: {
      tableName: string;
      primaryKey: PrimaryKey;
      attributeColumns?: AttributeColumns;
      condition: Condition;
      returnContent?: ReturnContentInput;
    }): Promise<RowResult>;
    updateRow(params: {
      tableName: string;
      primaryKey: PrimaryKey;
      updateOfAttributeColumns: UpdateOfAttributeColumns;
      condition: Condition;
      returnContent?: ReturnContentInput;
    }): Promise<RowResult>;
    deleteRow(params: { tableName: string; primaryKey: PrimaryKey; condition: Condition; returnContent?: ReturnContentInput }): Promise<RowResult>;
    getRange(params: {
      tableName: string;
      direction: 'FORWARD' | 'BACKWARD';
      inclusiveStartPrimaryKey: PrimaryKey;
      exclusiveEndPrimaryKey: PrimaryKey;
      limit?: number;
      maxVersions?: number;
      columnsToGet?: string[];
      timeRange?: TimeRangeInput;
      columnFilter?: ColumnCondition;
    }): Promise<{
      consumed: ConsumedCapacity;
      rows: Array<{ primaryKey: DecodedPrimaryKeyColumn[]; attributes: DecodedAttribute[] }>;
      nextStartPrimaryKey: DecodedPrimaryKeyColumn[] | null;
    }>;
    batchGetRow(params: {
      tables: Array<{ tableName: string; primaryKey: PrimaryKey[]; columnsToGet?: string[]; maxVersions?: number; columnFilter?: ColumnCondition }>;
    }): Promise<{ tables: BatchRowResult[][] }>;
    batchWriteRow(params: {
      tables: Array<{
        tableName: string;
        rows: Array<{
          type: 'PUT' | 'UPDATE' | 'DELETE';
          primaryKey: PrimaryKey;
          attributeColumns?: AttributeColumns | UpdateOfAttributeColumns;
          condition: Condition;
          returnContent?: ReturnContentInput;
        }>;
      }>;
    }): Promise<{ tables: BatchRowResult[] }>;
  }

  abstract class ColumnCondition {}
  class SingleColumnCondition extends ColumnCondition {
    constructor(columnName: string, columnValue: AttributeInput, comparator: number, passIfMissing?: boolean, latestVersionOnly?: boolean);
  }
  class CompositeCondition extends ColumnCondition {
    constructor(combinator: number);
    addSubCondition(condition: ColumnCondition): void;
  }
  class Condition {
    constructor(rowExistenceExpectation: number, columnCondition: ColumnCondition | null);
  }

  const RowExistenceExpectation: { readonly IGNORE: 0; readonly EXPECT_EXIST: 1; readonly EXPECT_NOT_EXIST: 2 };
  const ComparatorType: {
    readonly EQUAL: 1;
    readonly NOT_EQUAL: 2;
    readonly GREATER_THAN: 3;
    readonly GREATER_EQUAL: 4;
    readonly LESS_THAN: 5;
    readonly LESS_EQUAL: 6;
  };
  const LogicalOperator: { readonly NOT: 1; readonly AND: 2; readonly OR: 3 };
  const ReturnType: { readonly NONE: 0; readonly Primarykey: 1; readonly AfterModify: 2 };
  const Direction: { readonly FORWARD: 'FORWARD'; readonly BACKWARD: 'BACKWARD' };
  const PrimaryKeyType: { readonly INTEGER: 1; readonly STRING: 2; readonly BINARY: 3 };
  const UpdateType: { readonly PUT: 'PUT'; readonly DELETE: 'DELETE'; readonly DELETE_ALL: 'DELETE_ALL'; readonly INCREMENT: 'INCREMENT' };
  const INF_MIN: { readonly __sentinel: 'INF_MIN' };
  const INF_MAX: { readonly __sentinel: 'INF_MAX' };
  const PK_AUTO_INCR: { readonly __sentinel: 'PK_AUTO_INCR' };
  const Long: { fromNumber(n: number): Int64LE; fromString(s: string): Int64LE };

  /** The PlainBuffer writer (protocol/plian_buffer_builder.js); the local server encodes rows with it. */
  const PlainBufferBuilder: {
    serializeForPutRow(primaryKey: PrimaryKey, attributeColumns: AttributeColumns): Buffer;
    serializePrimaryKey(primaryKey: PrimaryKey): Buffer;
    serializeForUpdateRow(primaryKey: PrimaryKey, attributeColumns: UpdateOfAttributeColumns): Buffer;
    serializeForDeleteRow(primaryKey: PrimaryKey): Buffer;
  };
  /** The PlainBuffer reader (protocol/plain_buffer_coded_stream.js); it cannot read op bytes or INF_MIN/INF_MAX. */
  class PlainBufferInputStream {
    constructor(buffer: { buffer: Buffer; offset: number; limit: number } | Buffer);
  }
  class PlainBufferCodedInputStream {
    constructor(stream: PlainBufferInputStream);
    readRow(): { primaryKey: DecodedPrimaryKeyColumn[]; attributes: DecodedAttribute[] };
  }
}

/**
 * The SDK's pbjs static module (protocol/tablestore_compiled_proto.js, reference §6). Typed loosely:
 * the local server only calls decode/encode/create on the message classes and reads camelCase fields.
 */
declare module 'tablestore/lib/protocol/tablestore_compiled_proto.js' {
  interface ProtoMessageClass {
    decode(buffer: Uint8Array): Record<string, unknown>;
    encode(message: Record<string, unknown>): { finish(): Uint8Array };
    create(properties?: Record<string, unknown>): Record<string, unknown>;
    fromObject(object: Record<string, unknown>): Record<string, unknown>;
    verify(message: Record<string, unknown>): string | null;
  }
  const protos: {
    main: { proto: Record<string, ProtoMessageClass> };
    filter: { proto: Record<string, ProtoMessageClass> };
  };
  export = protos;
}
