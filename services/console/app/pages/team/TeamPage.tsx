import { PageHeader } from "../../ui/feedback";
import { ApiKeys } from "./ApiKeys";
import { Credentials } from "./Credentials";
import { Members } from "./Members";

export default function TeamPage() {
  return (
    <section>
      <PageHeader title="Team" />
      <Members />
      <ApiKeys />
      <Credentials />
    </section>
  );
}
