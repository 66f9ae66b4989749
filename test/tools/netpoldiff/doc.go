// Package netpoldiff checks raygate's NetworkPolicy evaluator
// (internal/netpol, behind `raygate tenant verify`) against an independent
// one: the matcher of cyclonus (github.com/mattfenwick/cyclonus/pkg/matcher),
// the NetworkPolicy conformance tool whose matcher policy-assistant of
// sigs.k8s.io/network-policy-api grew from. Its test generates clusters of
// namespaces, pods and policies and requires both evaluators to agree on
// every connection. It is a module of its own so that cyclonus and its
// dependencies stay out of raygate's.
//
//	cd test/tools/netpoldiff && go test ./...
package netpoldiff
