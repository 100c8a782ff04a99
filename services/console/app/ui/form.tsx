import { useId, type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes, type TextareaHTMLAttributes } from "react";
import { fieldMessage } from "../api/client";

/** The API's message for one field of a failed submit, if it named that field. */
export function fieldError(error: unknown, field: string): string | undefined {
  return fieldMessage(error, field);
}

interface FieldProps {
  label: string;
  /** The body field the API names in `details` (e.g. `email`, `systemPrompt`). */
  name: string;
  error: unknown;
  hint?: ReactNode;
}

function FieldShell({ label, id, message, hint, children }: { label: string; id: string; message: string | undefined; hint?: ReactNode; children: ReactNode }) {
  return (
    <div className={`field${message ? " invalid" : ""}`}>
      <label htmlFor={id}>{label}</label>
      {children}
      {hint ? (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
      {message ? (
        <p className="field-error" id={`${id}-error`} role="alert">
          {message}
        </p>
      ) : null}
    </div>
  );
}

function described(id: string, message: string | undefined, hint: ReactNode) {
  const ids = [hint ? `${id}-hint` : "", message ? `${id}-error` : ""].filter(Boolean).join(" ");
  return { "aria-invalid": message ? true : undefined, "aria-describedby": ids || undefined };
}

export function TextField({ label, name, error, hint, ...input }: FieldProps & InputHTMLAttributes<HTMLInputElement>) {
  const id = useId();
  const message = fieldError(error, name);
  return (
    <FieldShell label={label} id={id} message={message} hint={hint}>
      <input id={id} name={name} {...described(id, message, hint)} {...input} />
    </FieldShell>
  );
}

export function TextArea({ label, name, error, hint, ...input }: FieldProps & TextareaHTMLAttributes<HTMLTextAreaElement>) {
  const id = useId();
  const message = fieldError(error, name);
  return (
    <FieldShell label={label} id={id} message={message} hint={hint}>
      <textarea id={id} name={name} {...described(id, message, hint)} {...input} />
    </FieldShell>
  );
}

export function SelectField({ label, name, error, hint, options, ...input }: FieldProps & SelectHTMLAttributes<HTMLSelectElement> & { options: ReadonlyArray<readonly [string, string]> }) {
  const id = useId();
  const message = fieldError(error, name);
  return (
    <FieldShell label={label} id={id} message={message} hint={hint}>
      <select id={id} name={name} {...described(id, message, hint)} {...input}>
        {options.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
    </FieldShell>
  );
}

/** The submit's failure as a whole (its message; the fields carry their own). */
export function FormError({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : "The request failed";
  return (
    <p className="notice error" role="alert">
      {message}
    </p>
  );
}

/** Text the user must copy now because Galaxy will not show it again. */
export function SecretOnce({ label, value }: { label: string; value: string }) {
  const id = useId();
  return (
    <div className="secret" role="status">
      <label htmlFor={id}>{label} (shown once: copy it now)</label>
      <div className="copy-row">
        <input id={id} readOnly value={value} onFocus={(event) => event.currentTarget.select()} />
        <button type="button" onClick={() => void navigator.clipboard?.writeText(value)}>
          Copy
        </button>
      </div>
    </div>
  );
}
