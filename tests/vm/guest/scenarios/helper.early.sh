# helper scenario, at boot (sourced by early.sh before systemd-oomd and the user manager start):
# guardian-helper installed the way `cmake --install` installs it, as a system service. The
# system manager's daemon-reload happens here, before oomd watches anything.
if [[ -f $share/helper/guardian-helper ]]; then
  install -D -m755 "$share/helper/guardian-helper" /usr/local/libexec/guardian/guardian-helper
  install -D -m644 "$share/helper/guardian-helper.service" /etc/systemd/system/guardian-helper.service
  install -D -m644 "$share/helper/guardian-helper.tmpfiles" /etc/tmpfiles.d/guardian-helper.conf
  systemd-tmpfiles --create /etc/tmpfiles.d/guardian-helper.conf
  systemctl daemon-reload
  echo "early: guardian-helper installed as a system service"
fi
