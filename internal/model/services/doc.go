// Package services names AWS's services by what a request carries: the
// X-Amz-Target prefix of the JSON protocols and the SigV4 signing name of
// every protocol. The API server uses it to say which service a request
// was meant for when Flotilla does not serve it. The table is generated
// from aws-sdk-go's service models.
package services

//go:generate go run ../gen -service all -sdk-version v1.55.8

// ByTargetPrefix returns the name of the service whose X-Amz-Target
// values start with prefix ("GraniteServiceVersion20100801." is
// "Amazon CloudWatch"), and whether there is one.
func ByTargetPrefix(prefix string) (string, bool) {
	name, ok := byTargetPrefix[prefix]
	return name, ok
}

// BySigningName returns the name of the service whose requests are signed
// for signingName ("monitoring" is "Amazon CloudWatch"), and whether there
// is one.
func BySigningName(signingName string) (string, bool) {
	name, ok := bySigningName[signingName]
	return name, ok
}
