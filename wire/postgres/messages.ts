/**
 * PostgreSQL frontend/backend protocol 3.0: message codes and the shapes of
 * the frontend messages sqlgate's server side understands.
 * Reference: https://www.postgresql.org/docs/15/protocol-message-formats.html
 */

/** Type bytes of messages a client sends (after the startup phase). */
export const enum FrontendCode {
  Bind = 0x42, // B
  Close = 0x43, // C
  CopyData = 0x64, // d
  CopyDone = 0x63, // c
  CopyFail = 0x66, // f
  Describe = 0x44, // D
  Execute = 0x45, // E
  Flush = 0x48, // H
  FunctionCall = 0x46, // F
  Parse = 0x50, // P
  /** PasswordMessage, SASLInitialResponse and SASLResponse share 'p'. */
  Password = 0x70, // p
  Query = 0x51, // Q
  Sync = 0x53, // S
  Terminate = 0x58, // X
}

/** Type bytes of messages a server sends. */
export const enum BackendCode {
  Authentication = 0x52, // R
  BackendKeyData = 0x4b, // K
  BindComplete = 0x32, // 2
  CloseComplete = 0x33, // 3
  CommandComplete = 0x43, // C
  CopyBothResponse = 0x57, // W
  CopyData = 0x64, // d
  CopyDone = 0x63, // c
  CopyInResponse = 0x47, // G
  CopyOutResponse = 0x48, // H
  DataRow = 0x44, // D
  EmptyQueryResponse = 0x49, // I
  ErrorResponse = 0x45, // E
  FunctionCallResponse = 0x56, // V
  NegotiateProtocolVersion = 0x76, // v
  NoData = 0x6e, // n
  NoticeResponse = 0x4e, // N
  NotificationResponse = 0x41, // A
  ParameterDescription = 0x74, // t
  ParameterStatus = 0x53, // S
  ParseComplete = 0x31, // 1
  PortalSuspended = 0x73, // s
  ReadyForQuery = 0x5a, // Z
  RowDescription = 0x54, // T
}

/** Authentication request sub-codes (the Int32 after 'R'). */
export const enum AuthCode {
  Ok = 0,
  CleartextPassword = 3,
  MD5Password = 5,
  SASL = 10,
  SASLContinue = 11,
  SASLFinal = 12,
}

/** Codes carried where a protocol version would be in an untyped startup packet. */
export const PROTOCOL_3_0 = 196608;
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;

/** Transaction status in ReadyForQuery: idle, in a block, in a failed block. */
export type TransactionStatus = 'I' | 'T' | 'E';

/** First packet of a connection (no type byte). */
export type StartupPacket =
  | { readonly kind: 'ssl-request' }
  | { readonly kind: 'gssenc-request' }
  | { readonly kind: 'cancel-request'; readonly processId: number; readonly secretKey: number }
  | {
      readonly kind: 'startup';
      readonly protocolVersion: number;
      /** user, database, application_name, options, and anything else the client sent. */
      readonly params: ReadonlyMap<string, string>;
    };

/** A typed frontend message, parsed. Bodies that are relayed untouched stay as views. */
export type FrontendMessage =
  | { readonly kind: 'query'; readonly sql: string }
  | { readonly kind: 'parse'; readonly name: string; readonly sql: string; readonly paramTypes: readonly number[] }
  | {
      readonly kind: 'bind'; readonly portal: string; readonly statement: string;
      /** Result-column format codes as sent: none = all text, one = all columns, else one per column. */
      readonly resultFormats: readonly number[];
    }
  | { readonly kind: 'describe'; readonly target: 'S' | 'P'; readonly name: string }
  | { readonly kind: 'execute'; readonly portal: string; readonly maxRows: number }
  | { readonly kind: 'close'; readonly target: 'S' | 'P'; readonly name: string }
  | { readonly kind: 'sync' }
  | { readonly kind: 'flush' }
  | { readonly kind: 'copy-data'; readonly data: Buffer }
  | { readonly kind: 'copy-done' }
  | { readonly kind: 'copy-fail'; readonly message: string }
  | { readonly kind: 'function-call' }
  | { readonly kind: 'terminate' }
  /** 'p': which of PasswordMessage / SASLInitialResponse / SASLResponse depends on the auth state. */
  | { readonly kind: 'password'; readonly body: Buffer };

/** SASLInitialResponse, decoded from a 'p' body when the server asked for SASL. */
export interface SaslInitialResponse {
  readonly mechanism: string;
  /** undefined when the client sent length -1. */
  readonly data: Buffer | undefined;
}

/** One message frame: type byte and body (a view over the received bytes, without the length). */
export interface Frame {
  readonly type: number;
  readonly body: Buffer;
  /** The whole message (type, length, body) as received, for relaying untouched. */
  readonly raw: Buffer;
}

/** Fields of ErrorResponse / NoticeResponse. */
export interface ErrorFields {
  /** Localized severity (S), e.g. ERROR, FATAL, NOTICE. */
  readonly severity: string;
  /** SQLSTATE (C). */
  readonly code: string;
  /** Primary message (M). */
  readonly message: string;
  readonly detail?: string;
  readonly hint?: string;
}
