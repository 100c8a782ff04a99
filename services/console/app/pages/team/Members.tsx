import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { ok } from "@galaxy/sdk";
import { sdk } from "../../api/galaxy";
import { ROLES, type Member, type Role } from "../../api/types";
import { ErrorNotice, Loading } from "../../ui/feedback";
import { FormError, SelectField, TextField } from "../../ui/form";
import { formatTime } from "../../ui/format";

const ROLE_OPTIONS = ROLES.map((r) => [r, r] as const);

export function Members() {
  const client = useQueryClient();
  const members = useQuery({ queryKey: ["members"], queryFn: ({ signal }) => ok(sdk.api.GET("/api/members", { params: { query: { limit: 100 } }, signal })) });
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("member");
  const refresh = () => void client.invalidateQueries({ queryKey: ["members"] });
  const add = useMutation({
    mutationFn: () => ok(sdk.api.POST("/api/members", { body: { email, role } })).then((r) => r.data),
    onSuccess: () => {
      setEmail("");
      refresh();
    },
  });
  const change = useMutation({ mutationFn: (m: { userId: string; role: Role }) => ok(sdk.api.PATCH("/api/members/{userId}", { params: { path: { userId: m.userId } }, body: { role: m.role } })).then((r) => r.data), onSuccess: refresh });
  const remove = useMutation({ mutationFn: (userId: string) => ok(sdk.api.DELETE("/api/members/{userId}", { params: { path: { userId } } })), onSuccess: refresh });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    add.mutate();
  };
  return (
    <section className="card" aria-labelledby="members-heading">
      <h2 id="members-heading">Members</h2>
      {members.isPending ? <Loading what="Loading members" /> : null}
      {members.isError ? <ErrorNotice error={members.error} /> : null}
      {change.isError ? <ErrorNotice error={change.error} /> : null}
      {remove.isError ? <ErrorNotice error={remove.error} /> : null}
      {members.data ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Joined</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {members.data.data.map((m) => (
                <tr key={m.userId}>
                  <td>{m.name}</td>
                  <td>{m.email}</td>
                  <td>
                    <select aria-label={`Role of ${m.email}`} value={m.role} onChange={(e) => {
                        remove.reset();
                        change.mutate({ userId: m.userId, role: ROLES.find((r) => r === e.target.value) ?? m.role });
                      }}>
                      {ROLES.map((r) => (
                        <option key={r} value={r}>
                          {r}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>{formatTime(m.joinedAt)}</td>
                  <td>
                    <button type="button" className="danger" onClick={() => {
                        if (!window.confirm(`Remove ${m.email}?`)) return;
                        change.reset();
                        remove.mutate(m.userId);
                      }}>
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <form onSubmit={submit} noValidate className="inline-form" aria-label="Add a member">
        <TextField label="Email of an existing Galaxy user" name="email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} error={add.error} />
        <SelectField label="Role" name="role" value={role} onChange={(e) => setRole(e.target.value as Role)} error={add.error} options={ROLE_OPTIONS} />
        <FormError error={add.error} />
        <button type="submit" disabled={add.isPending}>
          Add member
        </button>
      </form>
    </section>
  );
}
