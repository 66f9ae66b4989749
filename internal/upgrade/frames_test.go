package upgrade

import (
	"bytes"
	"encoding/binary"
	"testing"
)

const head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"

// frame builds one WebSocket frame header and payload.
func frame(op byte, payload []byte, masked bool) []byte {
	b := []byte{0x80 | op}
	mask := byte(0)
	if masked {
		mask = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, mask|byte(n))
	case n <= 0xffff:
		b = append(b, mask|126, byte(n>>8), byte(n))
	default:
		b = append(b, mask|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if masked {
		b = append(b, 1, 2, 3, 4)
	}
	return append(b, payload...)
}

// boundaries parses a whole stream (head, then frames) and returns the
// offsets at which it is between frames; ok is false when the framing is
// not understood.
func boundaries(s []byte) (map[int]bool, bool) {
	out := map[int]bool{}
	i := bytes.Index(s, []byte("\r\n\r\n"))
	if i < 0 {
		return out, true
	}
	i += 4
	out[i] = true
	for i < len(s) {
		if len(s)-i < 2 {
			return out, true
		}
		l := uint64(s[i+1] & 0x7f)
		h := 2
		switch l {
		case 126:
			if len(s)-i < 4 {
				return out, true
			}
			l = uint64(binary.BigEndian.Uint16(s[i+2:]))
			h = 4
		case 127:
			if len(s)-i < 10 {
				return out, true
			}
			l = binary.BigEndian.Uint64(s[i+2:])
			if l>>63 != 0 {
				return out, false
			}
			h = 10
		}
		if s[i+1]&0x80 != 0 {
			h += 4
		}
		if uint64(len(s)-i) < uint64(h)+l {
			return out, true
		}
		i += h + int(l)
		out[i] = true
	}
	return out, true
}

// check feeds s in chunks of the given sizes (cycled) and compares
// between() after each chunk with the whole-stream parse.
func check(t testing.TB, s []byte, sizes []int) {
	t.Helper()
	want, ok := boundaries(s)
	var f frames
	off := 0
	for k := 0; off < len(s); k++ {
		n := 1
		if len(sizes) > 0 {
			n = sizes[k%len(sizes)]%(len(s)-off) + 1
		}
		f.feed(s[off : off+n])
		off += n
		if ok && f.between() != want[off] {
			t.Fatalf("after %d bytes: between %v, want %v", off, f.between(), want[off])
		}
		if !ok && f.bad && f.between() {
			t.Fatal("bad framing reported as between frames")
		}
	}
}

func TestFrames(t *testing.T) {
	long := bytes.Repeat([]byte("x"), 70000)
	for _, tc := range []struct {
		name   string
		stream []byte
	}{
		{"head only", []byte(head)},
		{"head split", []byte(head[:10])},
		{"one text frame", append([]byte(head), frame(1, []byte("hello"), false)...)},
		{"empty frame", append([]byte(head), frame(1, nil, false)...)},
		{"126 length", append([]byte(head), frame(2, bytes.Repeat([]byte("y"), 300), false)...)},
		{"127 length", append([]byte(head), frame(2, long, false)...)},
		{"masked", append([]byte(head), frame(1, []byte("hi"), true)...)},
		{"several", bytes.Join([][]byte{[]byte(head), frame(1, []byte("a"), false), frame(9, nil, false), frame(0, []byte("bc"), false)}, nil)},
		{"frame bytes that look like a head end", append([]byte(head), frame(1, []byte("\r\n\r\n"), false)...)},
		{"length with top bit", append([]byte(head), 0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1, 'x')},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, sizes := range [][]int{nil, {1}, {3}, {7, 1, 100}, {1 << 20}} {
				check(t, tc.stream, sizes)
			}
		})
	}
}

func TestFramesBadLength(t *testing.T) {
	var f frames
	f.feed(append([]byte(head), 0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1))
	if !f.bad || f.between() {
		t.Fatalf("a 64-bit length with its top bit set must stop framing: bad %v", f.bad)
	}
}

func TestCloseFrame(t *testing.T) {
	b := closeFrame(CloseGoingAway, "bye")
	if !bytes.Equal(b, []byte{0x88, 5, 0x03, 0xe9, 'b', 'y', 'e'}) {
		t.Fatalf("close frame % x", b)
	}
	if b := closeFrame(1000, string(bytes.Repeat([]byte("r"), 200))); len(b) != 4+123 || b[1] != 125 {
		t.Fatalf("long reason not cut to fit a control frame: %d bytes", len(b))
	}
}

// FuzzFrames: however the stream is cut into writes, the tracker agrees
// with a parse of the whole stream on where frames end.
func FuzzFrames(f *testing.F) {
	f.Add([]byte(head+"\x81\x05hello\x89\x00"), []byte{1, 2, 3})
	f.Add(append([]byte(head), frame(2, bytes.Repeat([]byte("y"), 300), true)...), []byte{200})
	f.Add([]byte(head+"\x82\x7f\x00\x00\x00\x00\x00\x00\x00\x02ab"), []byte{0})
	f.Add([]byte("\r\n\r\n\x81\x7e\x00"), []byte{5})
	f.Fuzz(func(t *testing.T, stream, cuts []byte) {
		sizes := make([]int, len(cuts))
		for i, c := range cuts {
			sizes[i] = int(c)
		}
		check(t, stream, sizes)
	})
}
