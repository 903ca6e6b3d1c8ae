#!/usr/bin/env bash
# The FieldSync demo on the embedded default: installs what is missing, builds, then sets up a
# field replica for each office (NER, AFG, SOM, PSE), imports the real activities of the OIC
# progress report spread over them offline, and shows what a field officer sees: listings,
# search, a correction, a deletion and a record's history.
# The replicas live in demo-home/ (or $FIELDSYNC_DEMO_DIR) and are made anew on every run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FIELDSYNC_TARGETS="fieldsync activity" bash "$here/scripts/build.sh" "$here/build" >/dev/null

fieldsync="$here/build/cli/fieldsync"
data="${FIELDSYNC_DATA:-$here/../shared/data/activities.jsonl}"
demo="${FIELDSYNC_DEMO_DIR:-$here/demo-home}"
[ -f "$data" ] || { echo "demo: no activity data at $data (the shared/ folder beside the repo)" >&2; exit 1; }
rm -rf "$demo"
mkdir -p "$demo/split"

step() { printf '\n\033[1m== %s ==\033[0m\n' "$*"; }

offices=(NER AFG SOM PSE)
step "Spreading $(wc -l <"$data") real activities over the four field offices"
for i in 0 1 2 3; do
  awk -v k="$i" '(NR - 1) % 4 == k' "$data" >"$demo/split/${offices[$i]}.jsonl"
done

for office in "${offices[@]}"; do
  step "Office $office: set up a replica and import its activities, offline"
  "$fieldsync" --home "$demo/$office" init --office "$office"
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

step "Every office, ready to sync with HQ"
for office in "${offices[@]}"; do
  "$fieldsync" --home "$demo/$office" --json status |
    sed -n 's/^  "\(office\|records\|pending_changes\)": \(.*\),\{0,1\}$/\1=\2/p' | tr '\n' ' '
  echo
done
