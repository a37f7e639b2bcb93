package auth

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"hash"

	"github.com/xdg-go/scram"
)

// Channel-binding type names (RFC 5056 §7 registry), as sent in the GS2
// header and advertised per XEP-0440.
const (
	cbTLSExporter       = string(scram.ChannelBindingTLSExporter)       // RFC 9266
	cbTLSServerEndPoint = string(scram.ChannelBindingTLSServerEndpoint) // RFC 5929 §4
)

// exporterLabel and exporterLen are the RFC 9266 §2 parameters of
// tls-exporter: the label, an empty context and 32 bytes.
const (
	exporterLabel = "EXPORTER-Channel-Binding"
	exporterLen   = 32
)

// channelBinding computes the channel-binding data of type typ for conn. It
// reports false when that type is not available on the connection.
func channelBinding(conn ConnInfo, typ string) (scram.ChannelBinding, bool) {
	if conn.TLS == nil {
		return scram.ChannelBinding{}, false
	}
	switch typ {
	case cbTLSExporter:
		// RFC 9266 §3: only with TLS 1.3 (or TLS 1.2 with the extended
		// master secret, which we do not rely on).
		if conn.TLS.Version < tls.VersionTLS13 {
			return scram.ChannelBinding{}, false
		}
		data, err := conn.TLS.ExportKeyingMaterial(exporterLabel, nil, exporterLen)
		if err != nil || len(data) != exporterLen {
			return scram.ChannelBinding{}, false
		}
		return scram.ChannelBinding{Type: scram.ChannelBindingTLSExporter, Data: data}, true
	case cbTLSServerEndPoint:
		data, ok := serverEndPoint(conn.ServerCert)
		if !ok {
			return scram.ChannelBinding{}, false
		}
		return scram.ChannelBinding{Type: scram.ChannelBindingTLSServerEndpoint, Data: data}, true
	}
	return scram.ChannelBinding{}, false
}

// serverEndPoint returns the tls-server-end-point channel-binding data of
// the server's leaf certificate (RFC 5929 §4.1): its hash with the hash
// function of the certificate's signature algorithm, SHA-256 if that is MD5
// or SHA-1. It reports false when the signature algorithm uses no single
// hash function (Ed25519, say), for which the binding is undefined.
func serverEndPoint(cert *x509.Certificate) ([]byte, bool) {
	if cert == nil || len(cert.Raw) == 0 {
		return nil, false
	}
	var h func() hash.Hash
	switch cert.SignatureAlgorithm {
	case x509.MD5WithRSA, x509.SHA1WithRSA, x509.DSAWithSHA1, x509.ECDSAWithSHA1,
		x509.SHA256WithRSA, x509.SHA256WithRSAPSS, x509.DSAWithSHA256, x509.ECDSAWithSHA256:
		h = sha256.New
	case x509.SHA384WithRSA, x509.SHA384WithRSAPSS, x509.ECDSAWithSHA384:
		h = sha512.New384
	case x509.SHA512WithRSA, x509.SHA512WithRSAPSS, x509.ECDSAWithSHA512:
		h = sha512.New
	default:
		return nil, false
	}
	d := h()
	d.Write(cert.Raw)
	return d.Sum(nil), true
}
