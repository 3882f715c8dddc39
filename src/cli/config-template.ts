/** The annotated example `switchyard config init` writes: the shared-domain scenario of the seeds. */
export const CONFIG_TEMPLATE = `# Switchyard configuration (SPEC §7.1), written by \`switchyard config init\`.
# Check it with \`switchyard config check\`; every command reads it from --config FILE,
# else $SWITCHYARD_CONFIG, else ./switchyard.yaml. Secrets are never written here: only
# the environment variable (…Env) or file (…File) that holds them.

redis:
  url: redis://127.0.0.1:6379          # REDIS_URL overrides; sentinel: / cluster: forms also accepted
  namespace: switchyard                # every key is {switchyard}:… (one Cluster slot)

# The mail domains this relay answers for.
domains:
  # Shared by two mail systems: addresses the directory knows are routed to their
  # mailbox's system; unknown ones go to the next hop (the on-premises system).
  - { name: contoso.edu, type: internalRelay, nextHop: onprem }
  # The cloud tenant's routing domain: relayed to the cloud connector as is.
  - { name: live.contoso.edu, type: externalRelay, connector: cloud }

# Next hops. A connector with addressSpaces also carries mail for those domains.
connectors:
  - { name: onprem, smartHosts: ["10.0.0.10:25"], tls: opportunistic }
  - name: cloud
    addressSpaces: [live.contoso.edu]
    smartHosts: ["[192.0.2.20]:25"]
    tls: required                      # refuse to deliver in clear text
    # caFile: /etc/switchyard/cloud-ca.pem
  - name: internet
    addressSpaces: ["*"]               # everything else trusted clients send out
    smartHosts: ["smtp-out.contoso.edu:587"]
    rewriteOutboundSender: true        # alice@live.contoso.edu leaves as alice@contoso.edu

# Where recipients come from. The higher priority wins an address claimed twice.
sources:
  - name: corp-ad                      # Active Directory over LDAPS
    type: ldap
    url: ldaps://dc1.contoso.edu       # or ldap://… with startTls: true
    # caFile: /etc/switchyard/corp-ca.pem   # the CA that signed the DC's certificate
    bindDn: CN=svc-switchyard,OU=Service,DC=contoso,DC=edu
    bindPasswordEnv: SWITCHYARD_LDAP_PASSWORD   # or bindPasswordFile: /run/secrets/ldap
    baseDn: DC=contoso,DC=edu
    mailboxConnector: onprem           # where its mailboxes live
    priority: 10
    schedule: "0 */6 * * *"            # full sync (cron)
    deltaSchedule: "*/5 * * * *"       # delta sync (a seconds field is allowed)
    deletionThreshold: 500             # refuse a sync that would remove more objects
  - name: students                     # a Csvde export (csvde -f students.csv), imported on a schedule
    type: csvde
    path: /var/lib/switchyard/students.csv
    mailboxConnector: cloud
    priority: 5
    schedule: "0 * * * *"

relay:
  listen: ["0.0.0.0:25"]
  hostname: mx1.contoso.edu
  # processes: auto                    # relay processes of \`switchyard relay\` (auto: one per core; default 1)
  trustedNetworks: ["10.0.0.0/8"]      # clients that may relay out (to the internet connector)
  # tls: { key: /etc/switchyard/tls.key, cert: /etc/switchyard/tls.crt }

admin:
  listen: 127.0.0.1:8025               # /healthz, /metrics, status page; off loopback needs a token
`;
