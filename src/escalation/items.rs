//! An incident's items (one per broken key), in arrival order and indexed by key, with
//! running counts kept as items change. An alert storm grows one incident to thousands of
//! keys; with these, one more alert costs the same at 10 keys and at 10,000.

use super::state::{Item, ItemKey, ItemStatus};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// Items serialize as the plain list; the index and counts are rebuilt on load.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(from = "Vec<Item>", into = "Vec<Item>")]
pub struct Items {
    list: Vec<Item>,
    index: HashMap<ItemKey, usize>,
    /// Open problems nobody acknowledged.
    unacknowledged: usize,
    /// Problems not recovered, acknowledged or not.
    open: usize,
    /// Recoveries not yet heard by anyone.
    unheard_recoveries: usize,
    /// (acknowledged at, position) of acknowledged open problems: when the oldest goes
    /// stale (`reescalate_after`).
    acknowledged: BTreeSet<(Timestamp, usize)>,
    /// Positions changed since [`Items::take_changed`]: what a step must persist.
    changed: BTreeSet<usize>,
}

/// What one item adds to the counts.
struct Share {
    unacknowledged: bool,
    open: bool,
    unheard_recovery: bool,
    acknowledged_at: Option<Timestamp>,
}

impl Share {
    fn of(item: &Item) -> Share {
        let open = item.status == ItemStatus::Problem;
        Share {
            unacknowledged: item.needs_ack(),
            open,
            unheard_recovery: item.status == ItemStatus::Recovered
                && item.heard_version < item.version,
            acknowledged_at: if open && item.ack.is_some() {
                item.acked_at
            } else {
                None
            },
        }
    }
}

impl Items {
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Item> {
        self.list.iter()
    }

    pub fn position(&self, key: &ItemKey) -> Option<usize> {
        self.index.get(key).copied()
    }

    /// Positions of `keys` that are items, in arrival order.
    pub fn positions(&self, keys: &[ItemKey]) -> Vec<usize> {
        let mut found: Vec<usize> = keys.iter().filter_map(|k| self.position(k)).collect();
        found.sort_unstable();
        found.dedup();
        found
    }

    pub fn any_unacknowledged(&self) -> bool {
        self.unacknowledged > 0
    }

    pub fn unacknowledged(&self) -> usize {
        self.unacknowledged
    }

    /// True when every item has recovered.
    pub fn all_recovered(&self) -> bool {
        self.open == 0
    }

    pub fn any_unheard_recovery(&self) -> bool {
        self.unheard_recoveries > 0
    }

    /// The earliest acknowledgement of a problem that is still open, with its position.
    pub fn oldest_acknowledgement(&self) -> Option<(Timestamp, usize)> {
        self.acknowledged.first().copied()
    }

    /// Acknowledged open problems acknowledged at or before `at`, oldest first.
    pub fn acknowledged_until(&self, at: Timestamp) -> Vec<usize> {
        self.acknowledged
            .iter()
            .take_while(|(t, _)| *t <= at)
            .map(|(_, i)| *i)
            .collect()
    }

    pub fn push(&mut self, item: Item) {
        let at = self.list.len();
        self.index.insert(item.key.clone(), at);
        self.list.push(item);
        self.count(at, true);
        self.changed.insert(at);
    }

    /// Changes the item at `at` and keeps the counts right.
    pub fn update<R>(&mut self, at: usize, change: impl FnOnce(&mut Item) -> R) -> R {
        self.count(at, false);
        let result = change(&mut self.list[at]);
        self.count(at, true);
        self.changed.insert(at);
        result
    }

    /// The items changed since the last call, with their positions.
    pub fn take_changed(&mut self) -> Vec<(usize, Item)> {
        std::mem::take(&mut self.changed)
            .into_iter()
            .map(|at| (at, self.list[at].clone()))
            .collect()
    }

    fn count(&mut self, at: usize, add: bool) {
        let share = Share::of(&self.list[at]);
        let step = |n: &mut usize, counts: bool| {
            if counts {
                if add {
                    *n += 1;
                } else {
                    *n -= 1;
                }
            }
        };
        step(&mut self.unacknowledged, share.unacknowledged);
        step(&mut self.open, share.open);
        step(&mut self.unheard_recoveries, share.unheard_recovery);
        if let Some(t) = share.acknowledged_at {
            if add {
                self.acknowledged.insert((t, at));
            } else {
                self.acknowledged.remove(&(t, at));
            }
        }
    }
}

impl std::ops::Index<usize> for Items {
    type Output = Item;
    fn index(&self, at: usize) -> &Item {
        &self.list[at]
    }
}

impl From<Vec<Item>> for Items {
    fn from(list: Vec<Item>) -> Items {
        let mut items = Items::default();
        for item in list {
            items.push(item);
        }
        items.changed.clear();
        items
    }
}

impl From<Items> for Vec<Item> {
    fn from(items: Items) -> Vec<Item> {
        items.list
    }
}

/// Equal when the items are; pending changes do not count.
impl PartialEq for Items {
    fn eq(&self, other: &Items) -> bool {
        self.list == other.list
    }
}

impl Eq for Items {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{AlertId, Severity, Source, SourceRef};
    use crate::escalation::AckBy;

    /// An unacknowledged generic problem on host `key`.
    fn item(key: &str) -> Item {
        Item {
            key: ItemKey {
                source: Source::Generic,
                key: key.into(),
            },
            host: key.into(),
            service: None,
            severity: Severity::High,
            state_word: "DOWN".into(),
            output: String::new(),
            status: ItemStatus::Problem,
            version: 1,
            heard_version: 0,
            last_alert_id: AlertId::new(1),
            problem_alert_id: AlertId::new(1),
            source_ref: SourceRef::Generic,
            ack: None,
            acked_at: None,
        }
    }

    /// The counts kept as items change must equal the counts computed from scratch.
    fn assert_counts(items: &Items) {
        let fresh = Items::from(items.list.clone());
        assert_eq!(items.unacknowledged, fresh.unacknowledged);
        assert_eq!(items.open, fresh.open);
        assert_eq!(items.unheard_recoveries, fresh.unheard_recoveries);
        assert_eq!(items.acknowledged, fresh.acknowledged);
        let needing = items.iter().filter(|i| i.needs_ack()).count();
        assert_eq!(items.unacknowledged(), needing);
    }

    #[test]
    fn counts_follow_every_change() {
        let mut items = Items::default();
        for k in ["a", "b", "c"] {
            items.push(item(k));
        }
        assert_counts(&items);
        assert_eq!(items.unacknowledged(), 3);
        let t: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        items.update(1, |i| {
            i.ack = Some(AckBy::Source);
            i.acked_at = Some(t);
        });
        assert_counts(&items);
        assert_eq!(items.oldest_acknowledgement(), Some((t, 1)));
        items.update(1, |i| {
            i.status = ItemStatus::Recovered;
            i.version += 1;
        });
        assert_counts(&items);
        assert_eq!(items.oldest_acknowledgement(), None);
        assert!(items.any_unheard_recovery());
        items.update(1, |i| i.heard_version = i.version);
        assert!(!items.any_unheard_recovery());
        for at in [0, 2] {
            items.update(at, |i| i.status = ItemStatus::Recovered);
        }
        assert_counts(&items);
        assert!(items.all_recovered());
    }

    #[test]
    fn changes_are_taken_once_and_lookups_use_the_key() {
        let mut items = Items::default();
        items.push(item("a"));
        items.push(item("b"));
        assert_eq!(items.take_changed().len(), 2);
        assert!(items.take_changed().is_empty());
        let b = items.position(&item("b").key).unwrap();
        items.update(b, |i| i.output = "slow".into());
        let changed = items.take_changed();
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].0, 1);
        assert_eq!(changed[0].1.output, "slow");
        assert_eq!(items.positions(&[item("b").key, item("a").key]), [0, 1]);
    }

    #[test]
    fn the_list_round_trips_through_json_with_its_counts() {
        let mut items = Items::default();
        items.push(item("a"));
        items.update(0, |i| i.ack = Some(AckBy::Source));
        let json = serde_json::to_string(&items).unwrap();
        let back: Items = serde_json::from_str(&json).unwrap();
        assert_eq!(back, items);
        assert_counts(&back);
        assert!(back.changed.is_empty());
    }
}
