package spotify

// Command is one Spotify Pixel command, as a browser would call spdt(command, params).
type Command uint8

// The commands the engine emits: alias and view plus every conversion SPEC 3.7 supports.
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

var commandNames = [NumCommands]string{
	"alias", "view", "lead", "product", "addtocart", "checkout", "purchase", "signup",
	"custom_event_1", "custom_event_2", "custom_event_3", "custom_event_4", "custom_event_5",
}

// String returns the command's spdt name, which is also its metric label.
func (c Command) String() string {
	if c < NumCommands {
		return commandNames[c]
	}
	return "unknown"
}

// Action is the image pixel's `a` parameter: the command, except view → init.
func (c Command) Action() string {
	if c == CmdView {
		return "init"
	}
	return c.String()
}

// conversionCommand maps a trimmed, lower-cased mapping target to a command.
func conversionCommand(to string) (Command, bool) {
	for c := CmdLead; c < NumCommands; c++ {
		if commandNames[c] == to {
			return c, true
		}
	}
	return 0, false
}

// standardMapping is SPEC 3.7's table, used when no custom mapping names the event.
var standardMapping = map[string][]Command{
	"Signed Up":        {CmdLead},
	"Product Viewed":   {CmdProduct},
	"Product Added":    {CmdAddToCart},
	"Checkout Started": {CmdCheckout},
	"Order Completed":  {CmdPurchase},
}
