// Package corpus generates realistic, deterministic RudderStack traffic for
// benchmarks, load tests and fuzz seeds: events shaped like the ones the
// RudderStack JavaScript SDK sends (full context, ids, timestamps, consent),
// in the proportions a typical e-commerce site produces.
//
// Everything is derived from a seed with math/rand/v2's PCG, so a seed always
// yields the same bytes, on every platform and Go version that keeps PCG's
// output stable (the Go 1 compatibility promise covers it).
//
// The mix, per event: about 43% page views, 24% track events that the
// Spotify Pixel destination does not map ("Button Clicked", "Video Played",
// ...), 28% mapped conversions ("Product Viewed", "Product Added",
// "Checkout Started", "Order Completed", "Signed Up") and 5% identify calls.
// Every event is 0.5–3 KB of JSON, except the occasional large cart (a
// "Product Added" carrying 10–50 products, about 1 event in 80), which may
// reach MaxLargeEventBytes.
package corpus

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// Size bounds of generated events, in bytes of JSON.
const (
	MinEventBytes      = 512
	MaxEventBytes      = 3 * 1024
	MaxLargeEventBytes = 8 * 1024 // a large cart (10–50 products)
)

// Config returns a typical Spotify Pixel destination config (docs/BEHAVIOUR.md §2.2): a
// pixel id, the alias call on, a couple of custom mappings, a denylist of
// internal events and OneTrust-style consent through generic consent
// management.
func Config() []byte {
	return []byte(`{"pixelId":"a1b2c3d4e5f60718293a4b5c6d7e8f90",` +
		`"enableAliasCall":true,` +
		`"eventsToSpotifyPixelEvents":[` +
		`{"from":"Signed Up","to":"signup"},` +
		`{"from":"Signed Up","to":"lead"},` +
		`{"from":"Trial Started","to":"custom_event_1"},` +
		`{"from":"Newsletter Subscribed","to":"Lead"}],` +
		`"eventFilteringOption":"blacklistedEvents",` +
		`"blacklistedEvents":[{"eventName":"Heartbeat"},{"eventName":"Internal Test Event"}],` +
		`"whitelistedEvents":[{"eventName":""}],` +
		`"consentManagement":{"web":[{"provider":"oneTrust","resolutionStrategy":"and","consents":[{"consent":"C0004"}]}]},` +
		`"oneTrustCookieCategories":{"web":[{"oneTrustCookieCategory":""}]},` +
		`"ketchConsentPurposes":{"web":[{"purpose":""}]},` +
		`"useNativeSDK":{"web":true},` +
		`"connectionMode":{"web":"device"}}`)
}

// Batch wraps events as a /transform request body: {"batch":[...]}.
func Batch(events [][]byte) []byte {
	n := len(`{"batch":[]}`)
	for _, e := range events {
		n += len(e) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"batch":[`...)
	for i, e := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	return append(b, "]}"...)
}

// NDJSON joins events one per line, each line ending with '\n'.
func NDJSON(events [][]byte) []byte {
	n := 0
	for _, e := range events {
		n += len(e) + 1
	}
	b := make([]byte, 0, n)
	for _, e := range events {
		b = append(b, e...)
		b = append(b, '\n')
	}
	return b
}

// Events returns n SDK-like RudderStack events generated from seed.
func Events(seed uint64, n int) [][]byte {
	g := newGen(seed, n)
	out := make([][]byte, n)
	for i := range out {
		out[i] = g.event(g.pick())
	}
	return out
}

// Purchase returns one "Order Completed" event with exactly products
// products, generated from seed (for benchmarks of the widest event).
func Purchase(seed uint64, products int) []byte {
	g := newGen(seed, 1)
	g.nProducts = products
	return g.event(kOrderCompleted)
}

// Identify returns one identify event generated from seed.
func Identify(seed uint64) []byte {
	return newGen(seed, 1).event(kIdentify)
}

// kind is what an event is about; weights are its share in a thousand.
type kind uint8

const (
	kPage kind = iota
	kButtonClicked
	kVideoPlayed
	kFormSubmitted
	kProductsSearched
	kScrollDepth
	kLinkClicked
	kHeartbeat
	kProductViewed
	kProductAdded
	kProductAddedLarge
	kCheckoutStarted
	kOrderCompleted
	kSignedUp
	kNewsletter
	kIdentify
	numKinds
)

var weights = [numKinds]int{
	kPage:              430,
	kButtonClicked:     70,
	kVideoPlayed:       45,
	kFormSubmitted:     25,
	kProductsSearched:  40,
	kScrollDepth:       35,
	kLinkClicked:       20,
	kHeartbeat:         5,
	kProductViewed:     110,
	kProductAdded:      57,
	kProductAddedLarge: 13,
	kCheckoutStarted:   35,
	kOrderCompleted:    30,
	kSignedUp:          20,
	kNewsletter:        15,
	kIdentify:          50,
}

func init() {
	total := 0
	for _, w := range weights {
		total += w
	}
	if total != 1000 {
		panic("corpus: weights must sum to 1000, got " + strconv.Itoa(total))
	}
}

// user is one visitor; identified visitors carry a userId, email and name.
type user struct {
	anonymousID string
	userID      string
	email       string
	name        string
	ua          int
	locale      string
	screen      [2]int
	ip          string
	consent     int // -1: no consentManagement; else an index into deniedSets
	session     int64
}

type product struct {
	id, sku, name, brand, category, variant string
	price                                   float64
}

type gen struct {
	r         *rand.Rand
	users     []user
	catalog   []product
	now       time.Time
	nProducts int // forced product count for Purchase; 0: random
	w         writer
}

func newGen(seed uint64, n int) *gen {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	g.now = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC).Add(time.Duration(g.r.IntN(86400)) * time.Second)
	nUsers := n/6 + 3
	g.users = make([]user, nUsers)
	for i := range g.users {
		g.users[i] = g.newUser()
	}
	g.catalog = make([]product, 200)
	for i := range g.catalog {
		g.catalog[i] = g.newProduct()
	}
	return g
}

func (g *gen) pick() kind {
	x := g.r.IntN(1000)
	for k, w := range weights {
		if x < w {
			return kind(k)
		}
		x -= w
	}
	return kPage
}

func (g *gen) one(list []string) string { return list[g.r.IntN(len(list))] }

func (g *gen) uuid() string {
	const hex = "0123456789abcdef"
	var b [36]byte
	a, c := g.r.Uint64(), g.r.Uint64()
	a = a&^(0xf<<12) | 4<<12 // version 4
	c = c&^(0x3<<62) | 2<<62 // variant 10
	for i, j := 0, 0; i < 36; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			b[i] = '-'
			continue
		}
		var nib uint64
		if j < 16 {
			nib = a >> (60 - 4*j) & 0xf
		} else {
			nib = c >> (60 - 4*(j-16)) & 0xf
		}
		b[i] = hex[nib]
		j++
	}
	return string(b[:])
}

func (g *gen) newUser() user {
	u := user{
		anonymousID: g.uuid(),
		ua:          g.r.IntN(len(userAgents)),
		locale:      g.one(locales),
		screen:      screens[g.r.IntN(len(screens))],
		consent:     -1,
		session:     1772400000000 + g.r.Int64N(86400000),
	}
	if g.r.IntN(100) < 55 {
		first, last := g.one(firstNames), g.one(lastNames)
		u.name = first + " " + last
		u.email = lower(first) + "." + lower(last) + strconv.Itoa(g.r.IntN(100)) + "@" + g.one(mailDomains)
		if g.r.IntN(10) < 8 {
			u.userID = "usr_" + strconv.FormatUint(g.r.Uint64()>>20, 36)
		} else {
			u.userID = strconv.Itoa(100000 + g.r.IntN(900000))
		}
	}
	if g.r.IntN(100) < 70 {
		u.ip = strconv.Itoa(11+g.r.IntN(200)) + "." + strconv.Itoa(g.r.IntN(256)) + "." +
			strconv.Itoa(g.r.IntN(256)) + "." + strconv.Itoa(1+g.r.IntN(254))
	}
	if g.r.IntN(100) < 30 {
		u.consent = g.r.IntN(len(deniedSets))
	}
	return u
}

func (g *gen) newProduct() product {
	adj, noun := g.one(adjectives), g.one(nouns)
	cat := g.one(categories)
	return product{
		id:       strconv.Itoa(100000 + g.r.IntN(900000)),
		sku:      "SKU-" + strconv.Itoa(1000+g.r.IntN(9000)),
		name:     adj + " " + noun,
		brand:    g.one(brands),
		category: cat,
		variant:  g.one(variants),
		price:    roundCents(2 + g.r.Float64()*180),
	}
}

func roundCents(x float64) float64 { return math.Round(x*100) / 100 }

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// page is where an event happens.
type page struct {
	path, title, search, referrer, url string
}

func (g *gen) page(k kind, p *product) page {
	var pg page
	switch k {
	case kProductViewed, kProductAdded, kProductAddedLarge:
		pg.path = "/products/" + slug(p.name) + "-" + p.id
		pg.title = p.name + " | " + p.brand + " | Northwind Outfitters"
	case kCheckoutStarted:
		pg.path, pg.title = "/checkout", "Checkout | Northwind Outfitters"
	case kOrderCompleted:
		pg.path, pg.title = "/checkout/thank-you", "Thank you for your order | Northwind Outfitters"
	case kSignedUp, kNewsletter:
		pg.path, pg.title = "/account/register", "Create an account | Northwind Outfitters"
	default:
		i := g.r.IntN(len(pagePaths))
		pg.path, pg.title = pagePaths[i], pageTitles[i]+" | Northwind Outfitters"
		if pg.path == "/collections" {
			pg.path += "/" + slug(g.one(categories))
		}
	}
	if g.r.IntN(100) < 35 {
		pg.search = "?" + g.one(searches)
	}
	if g.r.IntN(100) < 60 {
		pg.referrer = g.one(referrers)
	}
	pg.url = "https://www.northwind-outfitters.com" + pg.path + pg.search
	return pg
}

func slug(s string) string {
	b := []byte(lower(s))
	for i, c := range b {
		if c == ' ' || c == '&' {
			b[i] = '-'
		}
	}
	return string(b)
}

func (g *gen) event(k kind) []byte {
	u := &g.users[g.r.IntN(len(g.users))]
	if k == kIdentify && u.userID == "" {
		// identify is what gives a visitor an id
		first, last := g.one(firstNames), g.one(lastNames)
		u.name = first + " " + last
		u.email = lower(first) + "." + lower(last) + "@" + g.one(mailDomains)
		u.userID = "usr_" + strconv.FormatUint(g.r.Uint64()>>20, 36)
	}
	var p *product
	if k == kProductViewed || k == kProductAdded || k == kProductAddedLarge {
		p = &g.catalog[g.r.IntN(len(g.catalog))]
	}
	pg := g.page(k, p)
	g.now = g.now.Add(time.Duration(200+g.r.IntN(4000)) * time.Millisecond)
	orig := g.now
	sent := orig.Add(time.Duration(5+g.r.IntN(900)) * time.Millisecond)

	w := &g.w
	w.reset()
	w.open()
	w.key("anonymousId")
	w.str(u.anonymousID)
	w.key("channel")
	w.str("web")
	w.key("context")
	g.context(u, &pg)
	if k == kIdentify {
		w.key("traits")
		g.traits(u, true)
	}
	switch k {
	case kPage:
		w.key("name")
		w.str(pageName(pg.path))
	case kIdentify:
	default:
		w.key("event")
		w.str(eventNames[k])
	}
	w.key("integrations")
	switch x := g.r.IntN(100); {
	case x < 88:
		w.raw(`{"All":true}`)
	case x < 91:
		w.raw(`{"All":true,"Google Analytics 4":false}`)
	case x < 93:
		w.raw(`{"All":true,"Spotify Pixel":false}`)
	default:
		w.raw(`{}`)
	}
	w.key("messageId")
	w.str(g.uuid())
	w.key("originalTimestamp")
	w.str(orig.Format(isoMillis))
	if k != kIdentify {
		w.key("properties")
		g.properties(k, u, p, &pg)
	}
	w.key("receivedAt")
	w.str(sent.Add(time.Duration(20+g.r.IntN(300)) * time.Millisecond).Format(isoMillis))
	w.key("request_ip")
	if u.ip != "" {
		w.str(u.ip)
	} else {
		w.str("198.51.100." + strconv.Itoa(1+g.r.IntN(254)))
	}
	w.key("rudderId")
	w.str(g.uuid())
	w.key("sentAt")
	w.str(sent.Format(isoMillis))
	w.key("timestamp")
	w.str(orig.Format(isoMillis))
	w.key("type")
	switch k {
	case kPage:
		w.str("page")
	case kIdentify:
		w.str("identify")
	default:
		w.str("track")
	}
	w.key("userId")
	w.str(u.userID)
	w.close()
	return w.bytes()
}

const isoMillis = "2006-01-02T15:04:05.000Z07:00"

func (g *gen) context(u *user, pg *page) {
	w := &g.w
	w.open()
	w.key("app")
	w.raw(`{"build":"1.0.0","name":"RudderLabs JavaScript SDK","namespace":"com.rudderlabs.javascript","version":"3.11.4","installType":"npm"}`)
	if u.consent >= 0 {
		w.key("consentManagement")
		w.open()
		w.key("deniedConsentIds")
		w.raw(deniedSets[u.consent])
		w.key("provider")
		w.str("oneTrust")
		w.key("resolutionStrategy")
		w.str("and")
		w.close()
	}
	if g.r.IntN(100) < 15 {
		w.key("campaign")
		w.open()
		w.key("name")
		w.str(g.one(campaigns))
		w.key("source")
		w.str(g.one([]string{"google", "facebook", "newsletter", "spotify"}))
		w.key("medium")
		w.str(g.one([]string{"cpc", "social", "email", "audio"}))
		w.close()
	}
	if u.ip != "" {
		w.key("ip")
		w.str(u.ip)
	}
	w.key("library")
	w.raw(`{"name":"RudderLabs JavaScript SDK","version":"3.11.4"}`)
	w.key("locale")
	w.str(u.locale)
	w.key("os")
	w.raw(`{"name":"","version":""}`)
	w.key("page")
	w.open()
	w.key("path")
	w.str(pg.path)
	w.key("referrer")
	w.str(orDirect(pg.referrer))
	w.key("referring_domain")
	w.str(domainOf(pg.referrer))
	w.key("search")
	w.str(pg.search)
	w.key("tab_url")
	w.str(pg.url)
	w.key("title")
	w.str(pg.title)
	w.key("url")
	w.str(pg.url)
	w.close()
	w.key("screen")
	w.open()
	w.key("density")
	w.int(1 + g.r.IntN(2))
	w.key("width")
	w.int(u.screen[0])
	w.key("height")
	w.int(u.screen[1])
	w.key("innerWidth")
	w.int(u.screen[0] - g.r.IntN(40))
	w.key("innerHeight")
	w.int(u.screen[1] - 80 - g.r.IntN(120))
	w.close()
	w.key("sessionId")
	w.int64(u.session)
	w.key("timezone")
	w.str("GMT" + g.one([]string{"+0100", "-0500", "+0000", "-0800", "+0530"}))
	w.key("traits")
	g.traits(u, false)
	w.key("userAgent")
	w.str(userAgents[u.ua])
	w.close()
}

func (g *gen) traits(u *user, full bool) {
	w := &g.w
	w.open()
	if u.userID != "" {
		w.key("email")
		w.str(u.email)
		w.key("name")
		w.str(u.name)
		w.key("userId")
		w.str(u.userID)
		if full {
			w.key("plan")
			w.str(g.one([]string{"free", "premium", "family"}))
			w.key("createdAt")
			w.str(g.now.Add(-time.Duration(g.r.IntN(900*24)) * time.Hour).Format(isoMillis))
		}
	}
	w.close()
}

// Each kind of event carries the properties a site would send with it, so
// properties opens the object and delegates to one helper per family of kinds.
func (g *gen) properties(k kind, u *user, p *product, pg *page) {
	w := &g.w
	w.open()
	switch k {
	case kPage:
		g.pageProperties(pg)
	case kButtonClicked, kVideoPlayed, kFormSubmitted, kProductsSearched, kScrollDepth, kLinkClicked, kHeartbeat:
		g.interactionProperties(k, pg)
	case kProductViewed, kProductAdded, kProductAddedLarge:
		g.productProperties(k, u, p, pg)
	case kCheckoutStarted, kOrderCompleted:
		g.orderProperties(k)
	case kSignedUp, kNewsletter:
		g.signupProperties()
	}
	w.close()
}

// The SDK's page() copies the page context into properties and adds the
// initial referrer, so pageProperties writes those fields for a page view.
func (g *gen) pageProperties(pg *page) {
	w := &g.w
	w.key("name")
	w.str(pageName(pg.path))
	w.key("path")
	w.str(pg.path)
	w.key("referrer")
	w.str(orDirect(pg.referrer))
	w.key("referring_domain")
	w.str(domainOf(pg.referrer))
	w.key("search")
	w.str(pg.search)
	w.key("tab_url")
	w.str(pg.url)
	w.key("title")
	w.str(pg.title)
	w.key("url")
	w.str(pg.url)
	w.key("initial_referrer")
	w.str("$direct")
	w.key("initial_referring_domain")
	w.str("")
}

// Unmapped track events are a quarter of the mix and only need to look like
// a real site's, so interactionProperties writes the few properties each
// interaction carries.
func (g *gen) interactionProperties(k kind, pg *page) {
	w := &g.w
	switch k {
	case kButtonClicked:
		w.key("button_id")
		w.str("btn-" + strconv.Itoa(g.r.IntN(60)))
		w.key("button_text")
		w.str(g.one([]string{"Shop now", "Learn more", "Add to wishlist", "Continue", "Subscribe"}))
		w.key("location")
		w.str(g.one([]string{"hero", "header", "footer", "product_grid", "modal"}))
	case kVideoPlayed:
		w.key("video_id")
		w.str("vid_" + strconv.Itoa(1000+g.r.IntN(9000)))
		w.key("title")
		w.str(g.one(adjectives) + " " + g.one(nouns) + " lookbook")
		w.key("position")
		w.int(g.r.IntN(120))
		w.key("total_length")
		w.int(60 + g.r.IntN(600))
		w.key("quality")
		w.str(g.one([]string{"hd1080", "hd720", "auto"}))
		w.key("sound")
		w.int(g.r.IntN(101))
		w.key("full_screen")
		w.bool(g.r.IntN(4) == 0)
	case kFormSubmitted:
		w.key("form_id")
		w.str(g.one([]string{"contact", "newsletter-footer", "size-guide", "returns"}))
		w.key("fields")
		w.int(2 + g.r.IntN(8))
	case kProductsSearched:
		w.key("query")
		w.str(g.one(searchQueries))
		w.key("results")
		w.int(g.r.IntN(240))
	case kScrollDepth:
		w.key("percent")
		w.int(25 * (1 + g.r.IntN(4)))
		w.key("path")
		w.str(pg.path)
	case kLinkClicked:
		w.key("href")
		w.str(g.one(referrers))
		w.key("text")
		w.str(g.one([]string{"Instagram", "Size guide", "Store locator", "Careers"}))
	case kHeartbeat:
		w.key("interval_ms")
		w.int(30000)
	}
}

// Product events feed the product and addtocart conversions, one product at
// a time or as a large cart, so productProperties writes one product's fields,
// or a products array of 10–50 for kProductAddedLarge.
func (g *gen) productProperties(k kind, u *user, p *product, pg *page) {
	w := &g.w
	switch k {
	case kProductViewed:
		g.productFields(p, 1, false)
		w.key("currency")
		w.str("USD")
		w.key("position")
		w.int(1 + g.r.IntN(48))
		w.key("url")
		w.str(pg.url)
		w.key("image_url")
		w.str("https://cdn.northwind-outfitters.com/img/" + p.id + ".jpg")
	case kProductAdded:
		w.key("cart_id")
		w.str(cartID(u))
		g.productFields(p, 1+g.r.IntN(3), true)
		w.key("currency")
		w.str("USD")
		w.key("url")
		w.str(pg.url)
	case kProductAddedLarge:
		w.key("cart_id")
		w.str(cartID(u))
		w.key("currency")
		w.str("USD")
		w.key("products")
		g.products(10+g.r.IntN(41), true)
	}
}

// Checkout and purchase conversions read order ids, products and amounts
// that add up, so orderProperties writes an order whose revenue and total
// follow from its products, shipping, tax and optional coupon.
func (g *gen) orderProperties(k kind) {
	w := &g.w
	n := 1 + g.r.IntN(4)
	if g.nProducts > 0 {
		n = g.nProducts
	}
	w.key("order_id")
	w.str("ORD-" + strconv.Itoa(100000+g.r.IntN(900000)))
	if k == kOrderCompleted {
		w.key("checkout_id")
		w.str(g.uuid())
		w.key("affiliation")
		w.str("Online Store")
	}
	w.key("products")
	sub := g.products(n, false)
	shipping := roundCents(float64(g.r.IntN(3)) * 4.99)
	tax := roundCents(sub * 0.08)
	discount := 0.0
	if g.r.IntN(4) == 0 {
		discount = roundCents(sub * 0.1)
		w.key("coupon")
		w.str("SPRING10")
		w.key("discount_code")
		w.str("SPRING10")
	}
	total := roundCents(sub + shipping + tax - discount)
	w.key("currency")
	w.str("USD")
	w.key("discount")
	w.float(discount)
	w.key("shipping")
	w.float(shipping)
	w.key("tax")
	w.float(tax)
	if k == kCheckoutStarted {
		w.key("value")
		w.float(total)
		w.key("revenue")
		w.float(roundCents(sub - discount))
	} else {
		w.key("subtotal")
		w.float(sub)
		w.key("revenue")
		w.float(roundCents(sub - discount))
		w.key("total")
		w.float(total)
		w.key("is_new_customer")
		w.bool(g.r.IntN(3) == 0)
	}
}

// Sign-ups map to the lead and signup conversions, which may carry a zero
// price, so signupProperties writes the sign-up method and, one time in
// three, a price and currency.
func (g *gen) signupProperties() {
	w := &g.w
	w.key("type")
	w.str(g.one([]string{"email", "google", "apple"}))
	w.key("method")
	w.str(g.one([]string{"form", "oauth"}))
	w.key("category")
	w.str(g.one([]string{"account", "newsletter"}))
	if g.r.IntN(3) == 0 {
		w.key("price")
		w.int(0)
		w.key("currency")
		w.str("USD")
	}
}

func cartID(u *user) string { return "cart_" + u.anonymousID[:8] }

// productFields writes one product's properties (Product Viewed / Added).
func (g *gen) productFields(p *product, qty int, variant bool) {
	w := &g.w
	w.key("product_id")
	w.str(p.id)
	w.key("sku")
	w.str(p.sku)
	w.key("category")
	w.str(p.category)
	w.key("name")
	w.str(p.name)
	w.key("brand")
	w.str(p.brand)
	w.key("variant")
	w.str(p.variant)
	if variant {
		w.key("variant_id")
		w.str(p.sku + "-" + slug(p.variant))
	}
	w.key("price")
	w.float(p.price)
	w.key("quantity")
	w.int(qty)
}

// products writes an array of n catalog products and returns their subtotal;
// compact ones (large carts) carry fewer fields.
func (g *gen) products(n int, compact bool) float64 {
	w := &g.w
	w.openArray()
	sum := 0.0
	for i := 0; i < n; i++ {
		p := &g.catalog[g.r.IntN(len(g.catalog))]
		qty := 1 + g.r.IntN(2)
		sum += p.price * float64(qty)
		w.open()
		w.key("product_id")
		w.str(p.id)
		if !compact {
			w.key("sku")
			w.str(p.sku)
			w.key("name")
			w.str(p.name)
			w.key("brand")
			w.str(p.brand)
			w.key("category")
			w.str(p.category)
			w.key("variant")
			w.str(p.variant)
		} else {
			w.key("name")
			w.str(p.name)
		}
		w.key("price")
		w.float(p.price)
		w.key("quantity")
		w.int(qty)
		w.close()
	}
	w.closeArray()
	return roundCents(sum)
}

func pageName(path string) string {
	for i, p := range pagePaths {
		if p == path || len(path) > len(p) && path[:len(p)+1] == p+"/" {
			return pageTitles[i]
		}
	}
	switch {
	case len(path) >= 9 && path[:9] == "/products":
		return "Product"
	case len(path) >= 9 && path[:9] == "/checkout":
		return "Checkout"
	}
	return "Account"
}

func orDirect(ref string) string {
	if ref == "" {
		return "$direct"
	}
	return ref
}

func domainOf(ref string) string {
	const scheme = "https://"
	if len(ref) <= len(scheme) {
		return ""
	}
	s := ref[len(scheme):]
	for i := 0; i < len(s); i++ {
		if s[i] == '/' || s[i] == '?' {
			return s[:i]
		}
	}
	return s
}

var eventNames = [numKinds]string{
	kButtonClicked:     "Button Clicked",
	kVideoPlayed:       "Video Played",
	kFormSubmitted:     "Form Submitted",
	kProductsSearched:  "Products Searched",
	kScrollDepth:       "Scroll Depth Reached",
	kLinkClicked:       "Link Clicked",
	kHeartbeat:         "Heartbeat",
	kProductViewed:     "Product Viewed",
	kProductAdded:      "Product Added",
	kProductAddedLarge: "Product Added",
	kCheckoutStarted:   "Checkout Started",
	kOrderCompleted:    "Order Completed",
	kSignedUp:          "Signed Up",
	kNewsletter:        "Newsletter Subscribed",
}

var (
	userAgents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Safari/605.1.15",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.3 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.6943.89 Mobile Safari/537.36",
		"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:135.0) Gecko/20100101 Firefox/135.0",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36 Edg/133.0.3065.59",
	}
	locales       = []string{"en-US", "en-US", "en-GB", "de-DE", "fr-FR", "es-ES", "sv-SE", "pt-BR"}
	screens       = [][2]int{{1920, 1080}, {1440, 900}, {1536, 864}, {390, 844}, {412, 915}, {2560, 1440}}
	firstNames    = []string{"Alice", "Bob", "Carla", "Deepak", "Elin", "Femi", "Greta", "Hiro", "Ines", "Jonas", "Kemal", "Lucia"}
	lastNames     = []string{"Andersson", "Brown", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Huang", "Ivanova", "Jensen"}
	mailDomains   = []string{"example.com", "mail.example.org", "inbox.example.net"}
	deniedSets    = []string{`[]`, `["C0002"]`, `["C0003","C0004"]`, `["C0004"]`, `["C0002","C0003"]`}
	campaigns     = []string{"spring_sale", "brand_awareness_q1", "retargeting_cart", "podcast_promo"}
	adjectives    = []string{"Classic", "Vintage", "Organic", "Lightweight", "Waterproof", "Merino", "Slim", "Relaxed", "Recycled"}
	nouns         = []string{"Hoodie", "Sneaker", "Backpack", "Rain Jacket", "Beanie", "Chino", "T-Shirt", "Parka", "Sock Pack"}
	brands        = []string{"Northwind", "Fjällräven", "Patagonia", "Arc'teryx", "Muji", "Uniqlo"}
	categories    = []string{"Men", "Women", "Kids", "Outdoor", "Accessories", "Footwear"}
	variants      = []string{"Black / M", "Navy / L", "Olive / S", "Grey / XL", "White / 42", "Red / One Size"}
	searches      = []string{"utm_source=spotify&utm_medium=audio&utm_campaign=podcast_promo", "ref=nav", "gclid=Cj0KCQiA2KitBhCIARIsAPPMEhK", "sort=price-asc&page=2", "q=rain+jacket"}
	referrers     = []string{"https://www.google.com/", "https://open.spotify.com/", "https://www.instagram.com/", "https://duckduckgo.com/", "https://www.northwind-outfitters.com/collections/men"}
	pagePaths     = []string{"/", "/collections", "/search", "/blog/how-to-layer-for-winter", "/stores", "/account", "/cart", "/about"}
	pageTitles    = []string{"Home", "Collection", "Search", "How to layer for winter", "Store locator", "Account", "Cart", "About us"}
	searchQueries = []string{"rain jacket", "merino socks", "kids parka", "vegan sneakers", "backpack 30l"}
)

// writer builds JSON text in key order, adding commas where they belong.
type writer struct {
	b    []byte
	need bool // a value was written: the next member needs a comma
}

func (w *writer) reset() { w.b, w.need = make([]byte, 0, 2048), false }

func (w *writer) bytes() []byte { return w.b }

func (w *writer) comma() {
	if w.need {
		w.b = append(w.b, ',')
	}
}

func (w *writer) open()       { w.comma(); w.b = append(w.b, '{'); w.need = false }
func (w *writer) close()      { w.b = append(w.b, '}'); w.need = true }
func (w *writer) openArray()  { w.comma(); w.b = append(w.b, '['); w.need = false }
func (w *writer) closeArray() { w.b = append(w.b, ']'); w.need = true }

func (w *writer) key(k string) {
	w.comma()
	w.b = appendString(w.b, k)
	w.b = append(w.b, ':')
	w.need = false
}

func (w *writer) str(s string) { w.comma(); w.b = appendString(w.b, s); w.need = true }
func (w *writer) raw(s string) { w.comma(); w.b = append(w.b, s...); w.need = true }
func (w *writer) int(n int)    { w.int64(int64(n)) }
func (w *writer) int64(n int64) {
	w.comma()
	w.b = strconv.AppendInt(w.b, n, 10)
	w.need = true
}
func (w *writer) float(x float64) {
	w.comma()
	w.b = strconv.AppendFloat(w.b, x, 'f', -1, 64)
	w.need = true
}
func (w *writer) bool(v bool) {
	w.comma()
	w.b = strconv.AppendBool(w.b, v)
	w.need = true
}

// appendString appends s as a JSON string; s is valid UTF-8.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
