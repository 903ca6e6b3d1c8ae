#!/usr/bin/env bash
# The FieldSync demo on the embedded default: installs what is missing, builds, starts HQ on
# loopback (real TLS), enrolls a field replica for each office (NER, AFG, SOM, PSE), imports the
# real activities of the OIC progress report spread over them offline, shows what a field
# officer sees (listings, search, a correction, a deletion, a record's history), then syncs
# every office with HQ — including two NER laptops editing the same record —, has HQ roll out a new
# data type (aid distributions) that an office uses after its next sync, and shows that HQ holds
# them all.
# Everything lives in demo-home/ (or $FIELDSYNC_DEMO_DIR) and is made anew on every run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FIELDSYNC_TARGETS="fieldsync fieldsync-hq activity distribution" bash "$here/scripts/build.sh" "$here/build" >/dev/null

fieldsync="$here/build/cli/fieldsync"
fieldsync_hq="$here/build/cli/fieldsync-hq"
data="${FIELDSYNC_DATA:-$here/../shared/data/activities.jsonl}"
demo="${FIELDSYNC_DEMO_DIR:-$here/demo-home}"
[ -f "$data" ] || { echo "demo: no activity data at $data (the shared/ folder beside the repo)" >&2; exit 1; }
rm -rf "$demo"
mkdir -p "$demo/split"

step() { printf '\n\033[1m== %s ==\033[0m\n' "$*"; }

offices=(NER AFG SOM PSE)
step "HQ: set up (replica, TLS certificate, plugin signing key) and serve on 127.0.0.1"
"$fieldsync_hq" --home "$demo/hq" init
"$fieldsync_hq" --home "$demo/hq" serve --listen 127.0.0.1:0 --json >"$demo/hq-serve.json" 2>"$demo/hq-serve.log" &
hq_pid=$!
trap 'kill -TERM $hq_pid 2>/dev/null; wait $hq_pid 2>/dev/null' EXIT
for _ in $(seq 1 100); do [ -s "$demo/hq-serve.json" ] && break; sleep 0.1; done
hq_url=$(sed -n 's/.*"listening":"\([^"]*\)".*/\1/p' "$demo/hq-serve.json")
[ -n "$hq_url" ] || { echo "demo: HQ did not start" >&2; cat "$demo/hq-serve.log" >&2; exit 1; }
echo "HQ listening on $hq_url"
declare -A token
for office in "${offices[@]}"; do
  token[$office]=$("$fieldsync_hq" --home "$demo/hq" office add "$office" --json | sed -n 's/^  "token": "\(.*\)".*/\1/p')
done
ca_file="$demo/hq/tls/ca.pem"
signing_key="$demo/hq/signing.pub"  # pinned by every laptop: only plugins HQ signed install
"$fieldsync_hq" --home "$demo/hq" office list

step "Spreading $(wc -l <"$data") real activities over the four field offices"
for i in 0 1 2 3; do
  awk -v k="$i" '(NR - 1) % 4 == k' "$data" >"$demo/split/${offices[$i]}.jsonl"
done

for office in "${offices[@]}"; do
  step "Office $office: set up a replica enrolled with HQ, and import its activities offline"
  "$fieldsync" --home "$demo/$office" init --office "$office" --hq "$hq_url" --ca "$ca_file" --token "${token[$office]}" --signing-key "$signing_key"
  "$fieldsync" --home "$demo/$office" import activity "$demo/split/$office.jsonl"
done

step "Importing the same file again adds nothing (ids are kept)"
"$fieldsync" --home "$demo/NER" import activity "$demo/split/NER.jsonl"

step "NER: what the replica holds"
"$fieldsync" --home "$demo/NER" status

step "NER: the five newest activities of priority area 8 (agriculture and food security)"
"$fieldsync" --home "$demo/NER" list activity --where priority_area=8 --limit 5

step "AFG: search the Arabic text for \"فلسطين\" (Palestine)"
"$fieldsync" --home "$demo/AFG" list --search "فلسطين" --limit 3

step "SOM: log a new field visit by hand"
id=$("$fieldsync" --home "$demo/SOM" --json add activity \
  title="Visite de terrain à Baidoa — distribution alimentaire" \
  description="Visite de suivi de la distribution de vivres avec le PAM." \
  priority_area=8 goal=2.8.1 kind=field_visit status=ongoing start_date=2026-11-20 \
  place=Baidoa countries=SOM institutions="WFP,IOFS" participants=12 language=fr |
  sed -n 's/^  "id": "\(.*\)",$/\1/p')
"$fieldsync" --home "$demo/SOM" show "$id"

step "SOM: correct it (the visit is done, 15 took part) — only the changed fields get new versions"
"$fieldsync" --home "$demo/SOM" edit "$id" status=implemented participants=15 end_date=2026-11-21

step "SOM: a wrong value is refused and nothing changes"
"$fieldsync" --home "$demo/SOM" edit "$id" end_date=2026-11-01 || echo "(exit code $?: refused, replica unchanged)"

step "PSE: delete a mistaken record (a tombstone, kept in the history)"
victim=$("$fieldsync" --home "$demo/PSE" --json list --limit 1 | sed -n 's/^    "id": "\(.*\)",$/\1/p' | head -n1)
"$fieldsync" --home "$demo/PSE" delete "$victim"

step "SOM: the history of the field visit"
"$fieldsync" --home "$demo/SOM" history "$id"

step "The link is back: every office syncs with HQ"
for office in "${offices[@]}"; do
  printf '%s: ' "$office"
  "$fieldsync" --home "$demo/$office" sync
done

step "A second NER laptop joins and receives NER's records"
"$fieldsync" --home "$demo/NER-2" init --office NER --hq "$hq_url" --ca "$ca_file" --token "${token[NER]}" --signing-key "$signing_key"
"$fieldsync" --home "$demo/NER-2" sync

step "Both NER laptops change the same activity offline, then sync"
shared=$("$fieldsync" --home "$demo/NER" --json list --limit 1 | sed -n 's/^    "id": "\(.*\)",$/\1/p' | head -n1)
"$fieldsync" --home "$demo/NER" edit "$shared" status=cancelled participants=30
"$fieldsync" --home "$demo/NER-2" edit "$shared" status=ongoing institutions=IDB,SESRIC
"$fieldsync" --home "$demo/NER" sync
"$fieldsync" --home "$demo/NER-2" sync
"$fieldsync" --home "$demo/NER" sync
echo "-- what NER's first laptop shows (status is a field a person must settle; the rest merged):"
"$fieldsync" --home "$demo/NER" conflicts
"$fieldsync" --home "$demo/NER" show "$shared" | sed -n '/status:\|participants:\|institutions:/p'

step "NER settles the conflict; the resolution syncs like any edit"
"$fieldsync" --home "$demo/NER" conflicts resolve "$shared:status" --take local
"$fieldsync" --home "$demo/NER" sync
"$fieldsync" --home "$demo/NER-2" sync
"$fieldsync" --home "$demo/NER-2" conflicts

step "HQ rolls out a new data type — aid distributions — signed with its key"
"$fieldsync_hq" --home "$demo/hq" plugin publish "$here/build/lib/fieldsync/publish/libfieldsync_distribution.so"
"$fieldsync_hq" --home "$demo/hq" plugin list

step "SOM: the next sync installs it (signature, key and hash checked before it is opened)"
"$fieldsync" --home "$demo/SOM" sync
"$fieldsync" --home "$demo/SOM" plugins

step "SOM: log a distribution of food parcels in Baidoa, and sync it to HQ"
"$fieldsync" --home "$demo/SOM" add distribution commodity="سلال غذائية — colis alimentaires" quantity=420 unit=parcel \
  households=420 individuals=2730 location="مخيم بيدوا" adm1=Bay country=SOM date=2026-11-22 status=implemented \
  partners=WFP partners="الهلال الأحمر الصومالي" funding_source="Islamic Solidarity Fund" priority_area=8 goal=2.8.1
"$fieldsync" --home "$demo/SOM" sync
echo "-- at HQ:"
"$fieldsync" --home "$demo/hq" list distribution

step "HQ holds every office's activities"
"$fieldsync" --home "$demo/hq" status
for office in "${offices[@]}"; do
  printf '%s: %s records at HQ, %s on its laptop\n' "$office" \
    "$("$fieldsync" --home "$demo/hq" --json list --where office="$office" | grep -c '^    "id"')" \
    "$("$fieldsync" --home "$demo/$office" --json list --where office="$office" | grep -c '^    "id"')"
done
