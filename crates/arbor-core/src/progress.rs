//! Progress columns: how far along each row is, from time tracking, story points or resolution.
//!
//! Rules (SPEC §3):
//! - An issue's own progress: resolved issues are 100 %; otherwise time tracking gives
//!   `spent / (spent + remaining)`, story points and resolution give 0 % until resolved.
//! - A row with children shows the weighted average of its children's progress (its own progress when it has
//!   no child to average). A resolved issue is 100 % whatever is below it.
//! - A child's weight is its own (original estimate, story points, or 1 for resolution); a child without one
//!   gets the average weight of its siblings that have one; when none has, all weigh the same.
//!
//! Invariant: computed bottom-up in one pass over the rows, O(rows).

use serde::{Deserialize, Serialize};

/// What progress is measured by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgressBasis {
    /// Time spent against time remaining; weighted by original estimate.
    TimeTracking,
    /// Done or not, weighted by story points.
    StoryPoints,
    /// Done or not, every issue weighing the same.
    Resolution,
}

/// The facts about one row that progress is computed from. Non-issue rows (folders, memos, group headers)
/// have none of them: they only average their children.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProgressFacts {
    pub is_issue: bool,
    pub resolved: bool,
    /// Seconds.
    pub time_spent: Option<f64>,
    /// Seconds.
    pub remaining_estimate: Option<f64>,
    /// Seconds.
    pub original_estimate: Option<f64>,
    pub story_points: Option<f64>,
}

impl ProgressFacts {
    fn own_progress(&self, basis: ProgressBasis) -> Option<f64> {
        if !self.is_issue {
            return None;
        }
        if self.resolved {
            return Some(1.0);
        }
        match basis {
            ProgressBasis::TimeTracking => {
                let spent = self.time_spent.unwrap_or(0.0).max(0.0);
                let remaining = self.remaining_estimate.unwrap_or(0.0).max(0.0);
                if spent + remaining > 0.0 {
                    Some(spent / (spent + remaining))
                } else {
                    Some(0.0)
                }
            }
            ProgressBasis::StoryPoints | ProgressBasis::Resolution => Some(0.0),
        }
    }

    fn own_weight(&self, basis: ProgressBasis) -> Option<f64> {
        if !self.is_issue {
            return None;
        }
        let weight = match basis {
            ProgressBasis::TimeTracking => self
                .original_estimate
                .or_else(|| Some(self.time_spent? + self.remaining_estimate.unwrap_or(0.0))),
            ProgressBasis::StoryPoints => self.story_points,
            ProgressBasis::Resolution => Some(1.0),
        };
        weight.filter(|w| w.is_finite() && *w > 0.0)
    }
}

/// One row's result: progress in `0.0..=1.0` (`None` when there is nothing to measure) and the weight it
/// carries into its parent's average.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RowProgress {
    pub progress: Option<f64>,
    pub weight: Option<f64>,
}

/// Progress of every row of a forest given in pre-order by depths, with the facts of each row.
pub fn compute(depths: &[u16], facts: &[ProgressFacts], basis: ProgressBasis) -> Vec<RowProgress> {
    let mut out = vec![
        RowProgress {
            progress: None,
            weight: None
        };
        depths.len()
    ];
    // Results of rows waiting for their parent, by depth. Walking backwards, a row's children are exactly
    // what is waiting one level below it.
    let mut waiting: Vec<Vec<RowProgress>> = Vec::new();
    for row in (0..depths.len()).rev() {
        let depth = usize::from(depths[row]);
        if waiting.len() < depth + 2 {
            waiting.resize_with(depth + 2, Vec::new);
        }
        let children = std::mem::take(&mut waiting[depth + 1]);
        let row_facts = facts.get(row).copied().unwrap_or_default();
        let own = row_facts.own_progress(basis);
        let progress = if row_facts.resolved && row_facts.is_issue {
            Some(1.0)
        } else {
            weighted_average(&children).or(own)
        };
        let weight = row_facts.own_weight(basis).or_else(|| {
            let sum: f64 = children.iter().filter_map(|c| c.weight).sum();
            (sum > 0.0).then_some(sum)
        });
        let result = RowProgress { progress, weight };
        out[row] = result;
        waiting[depth].push(result);
    }
    out
}

/// The weighted average of the children that have a progress; children without a weight get the average
/// weight of those with one.
fn weighted_average(children: &[RowProgress]) -> Option<f64> {
    let measured: Vec<&RowProgress> = children.iter().filter(|c| c.progress.is_some()).collect();
    if measured.is_empty() {
        return None;
    }
    let weights: Vec<f64> = measured.iter().filter_map(|c| c.weight).collect();
    let fallback = if weights.is_empty() {
        1.0
    } else {
        weights.iter().sum::<f64>() / weights.len() as f64
    };
    let (mut total, mut sum) = (0.0, 0.0);
    for child in measured {
        let weight = child.weight.unwrap_or(fallback);
        total += weight;
        sum += weight * child.progress.unwrap_or(0.0);
    }
    (total > 0.0).then(|| (sum / total).clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(resolved: bool) -> ProgressFacts {
        ProgressFacts {
            is_issue: true,
            resolved,
            ..ProgressFacts::default()
        }
    }

    fn points(points: Option<f64>, resolved: bool) -> ProgressFacts {
        ProgressFacts {
            story_points: points,
            ..issue(resolved)
        }
    }

    fn time(spent: f64, remaining: f64, original: Option<f64>) -> ProgressFacts {
        ProgressFacts {
            time_spent: Some(spent),
            remaining_estimate: Some(remaining),
            original_estimate: original,
            ..issue(false)
        }
    }

    fn progress(depths: &[u16], facts: &[ProgressFacts], basis: ProgressBasis) -> Vec<Option<f64>> {
        compute(depths, facts, basis)
            .into_iter()
            .map(|r| r.progress.map(|p| (p * 1000.0).round() / 1000.0))
            .collect()
    }

    #[test]
    fn story_points_weigh_resolved_children() {
        // epic: 3 points done of 3 + 5 + 2 → 30 %.
        let depths = [0, 1, 1, 1];
        let facts = [
            points(None, false),
            points(Some(3.0), true),
            points(Some(5.0), false),
            points(Some(2.0), false),
        ];
        assert_eq!(
            progress(&depths, &facts, ProgressBasis::StoryPoints),
            vec![Some(0.3), Some(1.0), Some(0.0), Some(0.0)]
        );
    }

    #[test]
    fn a_child_without_weight_gets_the_average_of_its_siblings() {
        // Weights 2, (missing → average 4), 6; only the weightless one is done: 4 / 12.
        let depths = [0, 1, 1, 1];
        let facts = [
            points(None, false),
            points(Some(2.0), false),
            points(None, true),
            points(Some(6.0), false),
        ];
        assert_eq!(
            progress(&depths, &facts, ProgressBasis::StoryPoints)[0],
            Some(0.333)
        );
    }

    #[test]
    fn resolved_issues_are_complete_whatever_is_below() {
        let depths = [0, 1];
        let facts = [points(Some(1.0), true), points(Some(1.0), false)];
        assert_eq!(
            progress(&depths, &facts, ProgressBasis::StoryPoints)[0],
            Some(1.0)
        );
    }

    #[test]
    fn time_tracking_uses_spent_and_remaining_weighted_by_estimate() {
        // Child A: 1h of 4h (25 %), estimate 4h; child B: 3h of 4h (75 %), estimate 12h → (1 + 9) / 16.
        let depths = [0, 1, 1];
        let facts = [
            issue(false),
            time(3600.0, 10800.0, Some(14400.0)),
            time(10800.0, 3600.0, Some(43200.0)),
        ];
        assert_eq!(
            progress(&depths, &facts, ProgressBasis::TimeTracking),
            vec![Some(0.625), Some(0.25), Some(0.75)]
        );
    }

    #[test]
    fn folders_average_their_children_and_nested_levels_roll_up() {
        // folder → epic(A done, B open) and issue C done: epic 50 %, folder (50 % + 100 %) / 2.
        let folder = ProgressFacts::default();
        let depths = [0, 1, 2, 2, 1];
        let facts = [folder, issue(false), issue(true), issue(false), issue(true)];
        let result = compute(&depths, &facts, ProgressBasis::Resolution);
        assert_eq!(result[1].progress, Some(0.5));
        // The epic carries the weight of its two children into the folder; C weighs 1.
        assert_eq!(
            result[1].weight,
            Some(1.0),
            "an issue's own weight comes first"
        );
        assert_eq!(result[0].progress, Some(0.75));
    }

    #[test]
    fn rows_without_anything_to_measure_have_no_progress() {
        let depths = [0, 1];
        let facts = [ProgressFacts::default(), ProgressFacts::default()];
        assert_eq!(
            progress(&depths, &facts, ProgressBasis::Resolution),
            vec![None, None]
        );
    }
}
