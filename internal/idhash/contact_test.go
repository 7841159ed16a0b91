package idhash

import "testing"

func TestEmail(t *testing.T) {
	jane := SHA256Hex("jane@example.com")
	hashed := "ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789"
	cases := []struct {
		in   string
		want string
		ok   bool
	}{
		{"jane@example.com", jane, true},
		{"  Jane@Example.COM\n", jane, true},
		{"\u00a0jane@example.com\ufeff", jane, true},
		{"JÄNE@example.com", SHA256Hex("jÄne@example.com"), true}, // ASCII folding only
		{hashed, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789", true},
		{" " + hashed + " ", "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789", true},
		{hashed[:63], SHA256Hex("abcdef0123456789abcdef0123456789abcdef0123456789abcdef012345678"), true},
		{"", "", false},
		{" \t ", "", false},
	}
	for _, c := range cases {
		got, ok := Email(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("Email(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestPhone(t *testing.T) {
	want := SHA256Hex("+4915112345678")
	for _, in := range []string{"+49 151 1234-5678", "+49 (151) 12345678", "+4915112345678", " +49.151.123.456.78 "} {
		if got, ok := Phone(in); !ok || got != want {
			t.Errorf("Phone(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if got, ok := Phone("0151 123"); !ok || got != SHA256Hex("0151123") {
		t.Errorf("local number: %q %v", got, ok)
	}
	for _, in := range []string{"", "+", "n/a", "  "} {
		if got, ok := Phone(in); ok || got != "" {
			t.Errorf("Phone(%q) = %q, %v; want nothing", in, got, ok)
		}
	}
}
