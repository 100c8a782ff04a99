import { useId } from "react";

/** A form for an agent's `inputSchema`: one field per property of an object schema, else raw JSON. */
interface PropertySchema {
  type?: string | string[];
  enum?: unknown[];
  description?: string;
  title?: string;
}

export function schemaProperties(schema: Record<string, unknown> | null): Array<[string, PropertySchema, boolean]> | null {
  if (!schema || schema.type !== "object" || typeof schema.properties !== "object" || schema.properties === null) return null;
  const required = Array.isArray(schema.required) ? schema.required.filter((r): r is string => typeof r === "string") : [];
  return Object.entries(schema.properties as Record<string, PropertySchema>).map(([name, property]) => [name, property, required.includes(name)]);
}

function kind(property: PropertySchema): "string" | "number" | "boolean" | "enum" | "json" {
  if (Array.isArray(property.enum)) return "enum";
  const type = Array.isArray(property.type) ? property.type[0] : property.type;
  if (type === "string") return "string";
  if (type === "number" || type === "integer") return "number";
  if (type === "boolean") return "boolean";
  return "json";
}

/** Turns the form's text values into the input the schema describes; a JSON field that does not parse is reported by name. */
export function inputFromFields(schema: Record<string, unknown> | null, values: Record<string, string>): { input: unknown; errors: Record<string, string> } {
  const properties = schemaProperties(schema);
  const errors: Record<string, string> = {};
  if (!properties) {
    const raw = values.$json ?? "";
    if (raw.trim() === "") return { input: null, errors };
    try {
      return { input: JSON.parse(raw), errors };
    } catch {
      return { input: null, errors: { input: "is not valid JSON" } };
    }
  }
  const input: Record<string, unknown> = {};
  for (const [name, property] of properties) {
    const raw = values[name] ?? "";
    // Left empty, it is left out: a required one is then named by the API.
    if (raw === "") continue;
    const type = kind(property);
    if (type === "number") input[name] = raw === "" ? undefined : Number(raw);
    else if (type === "boolean") input[name] = raw === "true";
    else if (type === "json") {
      try {
        input[name] = JSON.parse(raw);
      } catch {
        errors[`input.${name}`] = "is not valid JSON";
      }
    } else input[name] = raw;
  }
  return { input, errors };
}

export function SchemaForm({ schema, values, onChange, errorFor }: { schema: Record<string, unknown> | null; values: Record<string, string>; onChange: (values: Record<string, string>) => void; errorFor: (field: string) => string | undefined }) {
  const base = useId();
  const properties = schemaProperties(schema);
  const set = (name: string, value: string) => onChange({ ...values, [name]: value });
  if (!properties) {
    const message = errorFor("input");
    return (
      <div className={`field${message ? " invalid" : ""}`}>
        <label htmlFor={`${base}-json`}>Input (JSON)</label>
        <textarea id={`${base}-json`} rows={4} value={values.$json ?? ""} onChange={(e) => set("$json", e.target.value)} aria-invalid={message ? true : undefined} placeholder='{"question": "…"} or leave empty' />
        {message ? <p className="field-error" role="alert">{message}</p> : null}
      </div>
    );
  }
  return (
    <>
      {properties.map(([name, property, required]) => {
        const id = `${base}-${name}`;
        const message = errorFor(`input.${name}`) ?? errorFor(`input/${name}`);
        const label = `${property.title ?? name}${required ? " (required)" : ""}`;
        const type = kind(property);
        const common = { id, "aria-invalid": message ? true : undefined, "aria-describedby": message ? `${id}-error` : undefined };
        return (
          <div key={name} className={`field${message ? " invalid" : ""}`}>
            <label htmlFor={id}>{label}</label>
            {type === "enum" ? (
              <select {...common} value={values[name] ?? ""} onChange={(e) => set(name, e.target.value)}>
                <option value="">—</option>
                {(property.enum ?? []).map((option) => (
                  <option key={String(option)} value={String(option)}>
                    {String(option)}
                  </option>
                ))}
              </select>
            ) : type === "boolean" ? (
              <select {...common} value={values[name] ?? ""} onChange={(e) => set(name, e.target.value)}>
                <option value="">—</option>
                <option value="true">true</option>
                <option value="false">false</option>
              </select>
            ) : type === "json" ? (
              <textarea {...common} rows={3} value={values[name] ?? ""} onChange={(e) => set(name, e.target.value)} />
            ) : (
              <input {...common} type={type === "number" ? "number" : "text"} value={values[name] ?? ""} onChange={(e) => set(name, e.target.value)} />
            )}
            {property.description ? <p className="hint">{property.description}</p> : null}
            {message ? (
              <p className="field-error" id={`${id}-error`} role="alert">
                {message}
              </p>
            ) : null}
          </div>
        );
      })}
    </>
  );
}
