import { useMutation } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { ApiError, fieldMessage } from "../../api/client";
import { ok } from "@galaxy/sdk";
import { sdk } from "../../api/galaxy";
import type { Agent, Execution } from "../../api/types";
import { navigate } from "../../router";
import { FormError } from "../../ui/form";
import { inputFromFields, SchemaForm } from "../../ui/SchemaForm";

/** Starts an execution of the agent with an input form built from its `inputSchema`. */
export function TestRun({ agent }: { agent: Agent }) {
  const [values, setValues] = useState<Record<string, string>>({});
  const run = useMutation({
    mutationFn: async () => {
      const { input, errors } = inputFromFields(agent.inputSchema, values);
      if (Object.keys(errors).length > 0) throw new ApiError(400, "validation_failed", "Fix the fields marked below", errors);
      return ok(sdk.api.POST("/api/agents/{id}/executions", { params: { path: { id: agent.id } }, body: { input } })).then((r) => r.data);
    },
    onSuccess: (execution) => navigate(`/executions/${execution.id}`),
  });
  // A refusal of the agent as it was (a draft) no longer holds once it is activated or changed.
  const { reset } = run;
  useEffect(() => reset(), [agent.status, agent.version, reset]);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    run.mutate();
  };
  const errorFor = (field: string) => fieldMessage(run.error, field);
  return (
    <form onSubmit={submit} noValidate aria-label="Test run">
      {agent.status !== "active" ? <p className="notice">This agent is {agent.status}: activate it to run it.</p> : null}
      <SchemaForm schema={agent.inputSchema} values={values} onChange={setValues} errorFor={errorFor} />
      <FormError error={run.error} />
      <button type="submit" className="primary" disabled={run.isPending}>
        {run.isPending ? "Starting…" : "Run"}
      </button>
    </form>
  );
}
