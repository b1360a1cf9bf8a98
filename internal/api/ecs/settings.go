package ecs

import (
	"context"
	"errors"
	"regexp"

	"github.com/flotilla/flotilla"
	wire "github.com/flotilla/flotilla/internal/model/ecs"
	"github.com/flotilla/flotilla/internal/ptr"
	"github.com/flotilla/flotilla/internal/store"
)

var principalPattern = regexp.MustCompile(`^arn:([a-z-]+):iam::([0-9]{12}):(root|user/.+|role/.+)$`)

// principal resolves an optional principalArn; the default is the caller,
// and every credential acts as the account's root.
func (s *Service) principal(p *string) (string, error) {
	if p == nil || *p == "" {
		return s.acct.RootPrincipal(), nil
	}
	m := principalPattern.FindStringSubmatch(*p)
	if m == nil || m[1] != flotilla.PartitionOf(s.acct.Region) || m[2] != s.acct.ID {
		return "", flotilla.Errorf(flotilla.EInvalid, "Invalid principalArn %q: specify the ARN of the root user, an IAM user or an IAM role of this account.", *p)
	}
	return *p, nil
}

// PutAccountSetting sets a setting for a principal; for the root principal it
// is the account default.
func (s *Service) PutAccountSetting(ctx context.Context, in *wire.PutAccountSettingRequest) (*wire.PutAccountSettingResponse, error) {
	principal, err := s.principal(in.PrincipalArn)
	if err != nil {
		return nil, err
	}
	st, err := s.putSetting(ctx, principal, string(in.Name), ptr.Deref(in.Value))
	if err != nil {
		return nil, err
	}
	return &wire.PutAccountSettingResponse{Setting: st}, nil
}

// PutAccountSettingDefault sets a setting for every principal that has not
// set its own.
func (s *Service) PutAccountSettingDefault(ctx context.Context, in *wire.PutAccountSettingDefaultRequest) (*wire.PutAccountSettingDefaultResponse, error) {
	st, err := s.putSetting(ctx, s.acct.RootPrincipal(), string(in.Name), ptr.Deref(in.Value))
	if err != nil {
		return nil, err
	}
	return &wire.PutAccountSettingDefaultResponse{Setting: st}, nil
}

func (s *Service) putSetting(ctx context.Context, principal, name, value string) (*wire.Setting, error) {
	if err := flotilla.ValidateAccountSetting(name, value); err != nil {
		return nil, err
	}
	rec := flotilla.AccountSetting{Name: name, Value: value, PrincipalARN: principal}
	if _, err := s.store.Txn(ctx, store.Txn{Ops: []store.Op{putJSON(flotilla.AccountSettingKey(principal, name), rec)}}); err != nil {
		return nil, err
	}
	return settingToWire(rec, wire.SettingTypeUser), nil
}

// DeleteAccountSetting removes a principal's own value of a setting.
func (s *Service) DeleteAccountSetting(ctx context.Context, in *wire.DeleteAccountSettingRequest) (*wire.DeleteAccountSettingResponse, error) {
	principal, err := s.principal(in.PrincipalArn)
	if err != nil {
		return nil, err
	}
	name := string(in.Name)
	if err := flotilla.ValidateAccountSetting(name, flotilla.DefaultAccountSetting(name)); err != nil {
		return nil, err
	}
	key := flotilla.AccountSettingKey(principal, name)
	rec, _, err := store.GetJSON[flotilla.AccountSetting](ctx, s.store, key)
	if errors.Is(err, store.ErrNotFound) {
		rec, err = &flotilla.AccountSetting{Name: name, Value: flotilla.DefaultAccountSetting(name), PrincipalARN: principal}, nil
	}
	if err != nil {
		return nil, err
	}
	if _, err := s.store.Txn(ctx, store.Txn{Ops: []store.Op{{Key: key, Delete: true}}}); err != nil {
		return nil, err
	}
	return &wire.DeleteAccountSettingResponse{Setting: settingToWire(*rec, wire.SettingTypeUser)}, nil
}

// ListAccountSettings lists a principal's own settings or, with
// effectiveSettings, the value in force for every setting.
func (s *Service) ListAccountSettings(ctx context.Context, in *wire.ListAccountSettingsRequest) (*wire.ListAccountSettingsResponse, error) {
	principal, err := s.principal(in.PrincipalArn)
	if err != nil {
		return nil, err
	}
	if in.Value != nil && in.Name == "" {
		return nil, flotilla.Errorf(flotilla.EInvalid, "value requires name.")
	}
	p, err := parsePage(in.NextToken, in.MaxResults, 10)
	if err != nil {
		return nil, err
	}
	var all []*wire.Setting
	for _, name := range flotilla.AccountSettingNames() {
		if in.Name != "" && string(in.Name) != name {
			continue
		}
		st, explicit, err := s.resolveSetting(ctx, principal, name)
		if err != nil {
			return nil, err
		}
		if !ptr.Deref(in.EffectiveSettings) && !explicit {
			continue
		}
		if in.Value != nil && *in.Value != ptr.Deref(st.Value) {
			continue
		}
		all = append(all, st)
	}
	pageItems, next := paginate(all, func(st *wire.Setting) string { return string(st.Name) }, p)
	out := &wire.ListAccountSettingsResponse{Settings: []wire.Setting{}, NextToken: next}
	for _, st := range pageItems {
		out.Settings = append(out.Settings, *st)
	}
	return out, nil
}

// resolveSetting returns the setting in force for principal: its own, else
// the account default, else AWS's. explicit says whether principal set it.
func (s *Service) resolveSetting(ctx context.Context, principal, name string) (*wire.Setting, bool, error) {
	for _, p := range []string{principal, s.acct.RootPrincipal()} {
		rec, _, err := store.GetJSON[flotilla.AccountSetting](ctx, s.store, flotilla.AccountSettingKey(p, name))
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		rec.PrincipalARN = principal
		return settingToWire(*rec, wire.SettingTypeUser), p == principal, nil
	}
	rec := flotilla.AccountSetting{Name: name, Value: flotilla.DefaultAccountSetting(name), PrincipalARN: principal}
	return settingToWire(rec, wire.SettingTypeAwsManaged), false, nil
}

// effectiveSetting is the value of a setting in force for principal.
func (s *Service) effectiveSetting(ctx context.Context, principal, name string) (string, error) {
	st, _, err := s.resolveSetting(ctx, principal, name)
	if err != nil {
		return "", err
	}
	return ptr.Deref(st.Value), nil
}

func settingToWire(rec flotilla.AccountSetting, typ wire.SettingType) *wire.Setting {
	return &wire.Setting{Name: wire.SettingName(rec.Name), Value: ptr.To(rec.Value), PrincipalArn: ptr.To(rec.PrincipalARN), Type: typ}
}
