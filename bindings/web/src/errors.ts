/** Error codes mirror the C ABI's moebius_status, so apps handle both runtimes alike. */
export type MoebiusErrorCode =
  | "INVALID_ARGUMENT"
  | "NOT_FOUND"
  | "BAD_MANIFEST"
  | "UNSUPPORTED"
  | "CORRUPT_BUNDLE"
  | "IMAGE_SIZE"
  | "RUNTIME";

export class MoebiusEdgeError extends Error {
  readonly code: MoebiusErrorCode;

  constructor(code: MoebiusErrorCode, message: string) {
    super(message);
    this.name = "MoebiusEdgeError";
    this.code = code;
  }
}
