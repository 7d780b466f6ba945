// Package wire is the binary frame format between Parley clients and the
// relay, carried one frame per WebSocket binary message. docs/protocol.md
// ("Relay protocol") specifies it byte by byte.
//
// Every frame is: version (1 byte, 1), type (1 byte), request id (4
// bytes, big-endian; echoed in the response, 0 for pushes), then a body
// whose layout depends on the type. Decoding is strict: unknown versions
// and types, short bodies and trailing bytes are errors, and no length
// field can make the decoder allocate more than the frame already holds.
package wire
