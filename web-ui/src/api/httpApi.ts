/**
 * Calls to the hub's HTTP API with the operator's JWT (`Authorization: Bearer`), shared by the
 * profile and saved-replies clients. A 401 is tried once more with a renewed token; refusals are
 * RFC 9457 problem details whose `detail` is what the operator reads, verbatim.
 */
import { PROBLEM_CODES, type ProblemCode } from "../protocol/codes";
import type { Problem } from "../protocol/frames";

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: ProblemCode | null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export interface ApiOptions {
  /** The operator's JWT; `renew` after a 401 (an expired token). */
  token(renew: boolean): Promise<string>;
  fetchFn?: typeof fetch;
}

export interface RequestBody {
  body?: BodyInit;
  type?: string;
}

/** `what` names the request in the operator's words, for answers that are not problems. */
export type ApiCall = (method: string, path: string, what: string, init?: RequestBody) => Promise<unknown>;

function isProblem(v: unknown): v is Problem {
  return typeof v === "object" && v !== null && "detail" in v && typeof v.detail === "string" && v.detail !== "";
}

/** The problem's `detail` as the hub wrote it, or a plain account of what came back. */
async function toError(res: Response, what: string): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    // not JSON: a proxy's error page, say
  }
  if (isProblem(body)) {
    const code = typeof body.code === "string" && body.code in PROBLEM_CODES ? body.code : null;
    return new ApiError(body.detail, res.status, code);
  }
  return new ApiError(`${what} failed: the hub answered ${res.status}${res.statusText ? ` ${res.statusText}` : ""}.`, res.status, null);
}

export function apiCaller({ token, fetchFn = (...a) => fetch(...a) }: ApiOptions): ApiCall {
  return async (method, path, what, init = {}) => {
    const attempt = async (renew: boolean) => {
      const headers: Record<string, string> = {
        authorization: `Bearer ${await token(renew)}`,
        accept: "application/json, application/problem+json",
      };
      if (init.type) headers["content-type"] = init.type;
      try {
        // The hub's endpoints live at the origin's root, whatever path serves the page.
        return await fetchFn(path, { method, headers, ...(init.body !== undefined ? { body: init.body } : {}) });
      } catch (e) {
        throw new ApiError(`${what} failed: the hub could not be reached (${e instanceof Error ? e.message : String(e)}).`, 0, null);
      }
    };
    let res = await attempt(false);
    if (res.status === 401) res = await attempt(true);
    if (!res.ok) throw await toError(res, what);
    // 204 No Content (a delete) has no body to read.
    if (res.status === 204) return null;
    return res.json() as Promise<unknown>;
  };
}
