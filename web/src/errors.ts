// Errors as the user should see them: the gRPC status in words, and for INVALID_ARGUMENT the
// google.rpc.BadRequest field violations, each placed next to the field it names.
import { Code, ConnectError } from "@connectrpc/connect";

import { BadRequestSchema } from "./gen/google/rpc/error_details_pb";
import { h, replace } from "./dom";

export interface Problem {
  /** e.g. "invalid_argument: bad request" */
  summary: string;
  /** Field path (as the service names it, e.g. "item.name") → what is wrong with it. */
  fields: Map<string, string[]>;
}

export function describe(error: unknown): Problem {
  const err = ConnectError.from(error);
  const fields = new Map<string, string[]>();
  for (const bad of err.findDetails(BadRequestSchema)) {
    for (const v of bad.fieldViolations) fields.set(v.field, [...(fields.get(v.field) ?? []), v.description]);
  }
  return { summary: `${Code[err.code] ?? err.code}: ${err.rawMessage}`, fields };
}

export function isCode(error: unknown, code: Code): boolean {
  return ConnectError.from(error).code === code;
}

/**
 * Shows a problem in a form: each violation in the `[data-error-for="<field>"]` element of
 * that field, the summary (and violations of fields the form does not have) in `summaryEl`.
 */
export function showProblem(form: HTMLElement, summaryEl: HTMLElement, problem: Problem | null): void {
  for (const el of form.querySelectorAll<HTMLElement>("[data-error-for]")) replace(el);
  if (!problem) {
    replace(summaryEl);
    return;
  }
  const unplaced: string[] = [];
  for (const [field, descriptions] of problem.fields) {
    const el = form.querySelector<HTMLElement>(`[data-error-for="${CSS.escape(field)}"]`);
    if (el) replace(el, descriptions.join("; "));
    else unplaced.push(`${field}: ${descriptions.join("; ")}`);
  }
  replace(summaryEl, h("strong", {}, problem.summary), ...unplaced.map((u) => h("div", {}, u)));
}
