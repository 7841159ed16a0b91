package idhash

import "testing"

func TestSHA256Hex(t *testing.T) {
	cases := map[string]string{
		"u1":  "bb82030dbc2bcaba32a90bf2e207a84a856fc5f033b77c480836ab6f77f40f19",
		"123": "a665a45920422f9d417e4867efdc4fb8a04a1f3fff1fa07e998e86f7f7a27ae3",
		"":    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	}
	for in, want := range cases {
		if got := SHA256Hex(in); got != want {
			t.Errorf("SHA256Hex(%q) = %s, want %s", in, got, want)
		}
		if got := string(AppendSHA256Hex([]byte("x"), in)); got != "x"+want {
			t.Errorf("AppendSHA256Hex(%q) = %s", in, got)
		}
	}
}

func TestAppendSHA256HexAllocs(t *testing.T) {
	buf := make([]byte, 0, 128)
	n := testing.AllocsPerRun(100, func() { buf = AppendSHA256Hex(buf[:0], "some-user-id") })
	if n != 0 {
		t.Fatalf("AppendSHA256Hex allocates %v times, want 0", n)
	}
}
