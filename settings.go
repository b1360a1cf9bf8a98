package flotilla

import (
	"net/url"
	"slices"
)

// AccountSetting is one account setting of one principal. Settings of the
// account's root principal are the defaults of every other principal.
type AccountSetting struct {
	Name         string `json:"name"`
	Value        string `json:"value"`
	PrincipalARN string `json:"principalArn"`
}

// AccountSettingsPrefix is the store prefix of all account settings.
const AccountSettingsPrefix = "/ecs/accountsettings/"

// AccountSettingKey is the store key of one principal's setting.
func AccountSettingKey(principal, name string) string {
	return AccountSettingsPrefix + url.PathEscape(principal) + "/" + name
}

// PrincipalSettingsPrefix is the store prefix of one principal's settings.
func PrincipalSettingsPrefix(principal string) string {
	return AccountSettingsPrefix + url.PathEscape(principal) + "/"
}

// settingRules lists each account setting's allowed values; the first is
// the value AWS applies when nobody set one.
var settingRules = map[string][]string{
	"serviceLongArnFormat":            {"enabled", "disabled"},
	"taskLongArnFormat":               {"enabled", "disabled"},
	"containerInstanceLongArnFormat":  {"enabled", "disabled"},
	"awsvpcTrunking":                  {"disabled", "enabled"},
	"containerInsights":               {"disabled", "enabled", "enhanced"},
	"fargateFIPSMode":                 {"disabled", "enabled"},
	"tagResourceAuthorization":        {"on", "off"},
	"fargateTaskRetirementWaitPeriod": {"7", "0", "14"},
	"guardDutyActivate":               {"off", "on"},
	"defaultLogDriverMode":            {"non-blocking", "blocking"},
}

// AccountSettingNames lists the settings Flotilla knows, sorted.
func AccountSettingNames() []string {
	names := make([]string, 0, len(settingRules))
	for n := range settingRules {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// DefaultAccountSetting is the value of a setting nobody set.
func DefaultAccountSetting(name string) string {
	if v, ok := settingRules[name]; ok {
		return v[0]
	}
	return ""
}

// ValidateAccountSetting checks a setting's name and value.
func ValidateAccountSetting(name, value string) error {
	allowed, ok := settingRules[name]
	if !ok {
		return Errorf(EInvalid, "Invalid account setting name: %s.", name)
	}
	if !slices.Contains(allowed, value) {
		return Errorf(EInvalid, "Invalid value %q for account setting %s. Valid values: %v.", value, name, allowed)
	}
	return nil
}
