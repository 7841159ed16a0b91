package spotify

// Command is one Spotify Pixel command, as a browser would call spdt(command, params).
type Command uint8

// The commands the engine emits: alias and view plus every conversion
// BEHAVIOUR.md §3 step 7 lists as usable. Each is described once, by its row
// in commands.
const (
	CmdAlias Command = iota
	CmdView
	CmdLead
	CmdProduct
	CmdAddToCart
	CmdCheckout
	CmdPurchase
	CmdSignup
	CmdCustom1
	CmdCustom2
	CmdCustom3
	CmdCustom4
	CmdCustom5
	NumCommands // the number of commands, for arrays indexed by Command
)

// commandSpec is everything that sets one command apart from the others, so
// that adding a command is one row of commands (and its golden cases).
type commandSpec struct {
	name     string  // the spdt name: output, metric label and custom mapping target
	action   string  // the image pixel's a parameter; "" for a call without a beacon
	capi     string  // the Conversions API event_name (BEHAVIOUR.md §8); "" when never sent
	params   []param // the parameter map (BEHAVIOUR.md §4.1); nil for a call that is no mapping target
	fanOut   bool    // one call per element of properties.products (BEHAVIOUR.md §4.2)
	standard string  // the RudderStack event the standard mapping sends to it (BEHAVIOUR.md §3 step 7), if any
}

// commands is the command table.
var commands = [NumCommands]commandSpec{
	CmdAlias:     {name: "alias"},
	CmdView:      {name: "view", action: "init", capi: "VIEW"},
	CmdLead:      {name: "lead", action: "lead", capi: "LEAD", params: simpleMap, standard: "Signed Up"},
	CmdProduct:   {name: "product", action: "product", capi: "PRODUCT", params: productMap, fanOut: true, standard: "Product Viewed"},
	CmdAddToCart: {name: "addtocart", action: "addtocart", capi: "ADD_TO_CART", params: addMap, fanOut: true, standard: "Product Added"},
	CmdCheckout:  {name: "checkout", action: "checkout", capi: "CHECK_OUT", params: checkoutMap, standard: "Checkout Started"},
	CmdPurchase:  {name: "purchase", action: "purchase", capi: "PURCHASE", params: purchaseMap, standard: "Order Completed"},
	CmdSignup:    {name: "signup", action: "signup", capi: "SIGN_UP", params: simpleMap},
	CmdCustom1:   {name: "custom_event_1", action: "custom_event_1", capi: "CUSTOM_EVENT_1", params: simpleMap},
	CmdCustom2:   {name: "custom_event_2", action: "custom_event_2", capi: "CUSTOM_EVENT_2", params: simpleMap},
	CmdCustom3:   {name: "custom_event_3", action: "custom_event_3", capi: "CUSTOM_EVENT_3", params: simpleMap},
	CmdCustom4:   {name: "custom_event_4", action: "custom_event_4", capi: "CUSTOM_EVENT_4", params: simpleMap},
	CmdCustom5:   {name: "custom_event_5", action: "custom_event_5", capi: "CUSTOM_EVENT_5", params: simpleMap},
}

// spec returns c's row, an empty one for a value outside the table.
func (c Command) spec() *commandSpec {
	if c < NumCommands {
		return &commands[c]
	}
	return &commandSpec{}
}

// String returns the command's spdt name, which is also its metric label.
func (c Command) String() string {
	if c < NumCommands {
		return commands[c].name
	}
	return "unknown"
}

// Action is the image pixel's `a` parameter ("" for alias, which has no beacon).
func (c Command) Action() string { return c.spec().action }

// HasBeacon reports whether a call of c gets an image-pixel URL: every call
// but alias.
func (c Command) HasBeacon() bool { return c.spec().action != "" }

// CAPIEventName returns the Conversions API event_name of c ("" for alias).
func (c Command) CAPIEventName() string { return c.spec().capi }

// conversionCommand maps a trimmed, lower-cased mapping target to a command.
func conversionCommand(to string) (Command, bool) {
	for c := range NumCommands {
		if commands[c].params != nil && commands[c].name == to {
			return c, true
		}
	}
	return 0, false
}

// standardMapping is BEHAVIOUR.md §3 step 7's standard table, read from the
// command table; it is used when no custom mapping names the event.
var standardMapping = func() map[string][]Command {
	m := map[string][]Command{}
	for c := range NumCommands {
		if name := commands[c].standard; name != "" {
			m[name] = append(m[name], c)
		}
	}
	return m
}()
