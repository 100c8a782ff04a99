import { useState } from "react";
import { PageHeader } from "../../ui/feedback";
import { DeadLetters } from "./DeadLetters";
import { Incidents } from "./Incidents";
import { Replays } from "./Replays";

const TABS = [
  ["replays", "Replays"],
  ["dead-letters", "Dead letters"],
  ["incidents", "Security incidents"],
] as const;
type Tab = (typeof TABS)[number][0];

/** For system admins: replays, dead letters and security incidents (docs/replay.md, docs/security.md). */
export default function OperatorsPage() {
  const [tab, setTab] = useState<Tab>("replays");
  return (
    <section>
      <PageHeader title="Operators" />
      <div role="tablist" aria-label="Operator sections" className="tabs">
        {TABS.map(([key, label]) => (
          <button key={key} type="button" role="tab" id={`tab-${key}`} aria-selected={tab === key} aria-controls={`panel-${key}`} onClick={() => setTab(key)}>
            {label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        <h2 className="visually-hidden">{TABS.find(([key]) => key === tab)?.[1]}</h2>
        {tab === "replays" ? <Replays /> : null}
        {tab === "dead-letters" ? <DeadLetters /> : null}
        {tab === "incidents" ? <Incidents /> : null}
      </div>
    </section>
  );
}
