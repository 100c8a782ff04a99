/** Paragraphs on unrelated subjects, each repeated so that every one fills most of a chunk. */
export const TOPICS = {
  refunds:
    "Refunds: a customer may return a product within thirty days of delivery for a full refund to the original payment method. The billing team processes refunds once the returned product reaches the warehouse.",
  shipping:
    "Shipping: orders to Europe ship from the Rotterdam warehouse and arrive within five to seven business days. Express shipping to Europe arrives in two days for an extra fee paid at checkout.",
  passwords:
    "Security: passwords must be at least twelve characters long and are rotated every ninety days. Administrators must also use two-factor authentication with a hardware key.",
  office:
    "Office hours: the support office in Lisbon is open from nine to five on weekdays. The phone line is closed on public holidays and over the New Year break.",
} as const;

/** A handbook of the four subjects in order, about 2,700 characters: several chunks. */
export function handbook(): string {
  return Object.values(TOPICS)
    .map((paragraph) => `${paragraph} ${paragraph} ${paragraph}`)
    .join("\n\n");
}
