package spotify

// Step names the decision step (docs/BEHAVIOUR.md §3) that filtered or
// failed an event: a small fixed set, so that it can label metrics (the
// reason's kind, never its text) and name the explain trace's last step.
type Step uint8

// The steps that can decide an outcome other than ok, in decision order.
const (
	StepNone         Step = iota // the event went through: ok
	StepInput                    // the front could not read it (an NDJSON line not JSON or too long)
	StepShape                    // not a JSON object, or not UTF-8
	StepConfig                   // the destination's config is invalid
	StepIntegrations             // the integrations object excludes Spotify Pixel
	StepConsent                  // a required consent was denied
	StepType                     // type missing, not a string, or not supported
	StepFilter                   // the event filter (allowlist or denylist)
	StepName                     // event name missing or not a string
	StepMapping                  // no Spotify Pixel event mapped for the name
	StepFanOut                   // products is an empty array
	NumSteps                     // the number of steps, for arrays indexed by Step
)

var stepNames = [NumSteps]string{"none", "input", "shape", "config", "integrations", "consent", "type", "filter", "name", "mapping", "fan-out"}

// String returns the step's name, as metric label and explain step.
func (s Step) String() string { return stepNames[s] }
