//! Facts about the simulated Jira site, read straight from jira-sim, so that what the board shows can be
//! compared with what is really there.

use jira_sim::model::Site;

use crate::harness::Board;

fn project_index(site: &Site, key: &str) -> Option<u16> {
    site.projects
        .iter()
        .position(|p| p.key == key)
        .and_then(|p| u16::try_from(p).ok())
}

fn is_epic(site: &Site, issue: &jira_sim::model::Issue) -> bool {
    site.issue_types[usize::from(issue.issue_type)].name == "Epic"
}

/// The keys of the epics of `project`.
pub(crate) fn epics(board: &Board, project: &str) -> Vec<String> {
    board.demo.sim.handle().with_site(|site| {
        let Some(project) = project_index(site, project) else {
            return Vec::new();
        };
        site.issues
            .iter()
            .filter(|issue| issue.project == project && is_epic(site, issue))
            .map(|issue| issue.key.to_string())
            .collect()
    })
}

/// `count` issues `person` may see and `count` they may not, in the site's order.
pub(crate) fn seen_and_unseen(
    board: &Board,
    person: &str,
    count: usize,
) -> (Vec<String>, Vec<String>) {
    board.demo.sim.handle().with_site(|site| {
        let who = site.person_by_name(person);
        let mut seen = Vec::new();
        let mut unseen = Vec::new();
        for (idx, issue) in site.issues.iter().enumerate() {
            let sees = who.is_some_and(|p| u32::try_from(idx).is_ok_and(|i| site.can_browse(p, i)));
            let list = if sees { &mut seen } else { &mut unseen };
            if list.len() < count {
                list.push(issue.key.to_string());
            }
            if seen.len() == count && unseen.len() == count {
                break;
            }
        }
        (seen, unseen)
    })
}

/// Two issues of `project` that are not epics, with different whole numbers of story points (and sums
/// that differ from both): `[(key, points); 2]`.
pub(crate) fn two_pointed_issues(board: &Board, project: &str) -> Option<[(String, f64); 2]> {
    board.demo.sim.handle().with_site(|site| {
        let project = project_index(site, project)?;
        let mut found: Vec<(String, f64)> = Vec::new();
        for issue in &site.issues {
            if issue.project != project || is_epic(site, issue) || !issue.children.is_empty() {
                continue;
            }
            let Some(points) = issue.story_points.map(f64::from) else {
                continue;
            };
            if points < 1.0 || points.fract() != 0.0 || found.iter().any(|(_, p)| *p == points) {
                continue;
            }
            found.push((issue.key.to_string(), points));
            if found.len() == 2 {
                let second = found.pop()?;
                let first = found.pop()?;
                return Some([first, second]);
            }
        }
        None
    })
}

/// The story points of these issues (None where they have none).
pub(crate) fn story_points(
    board: &Board,
    keys: &[String],
) -> std::collections::HashMap<String, Option<f64>> {
    board.demo.sim.handle().with_site(|site| {
        site.issues
            .iter()
            .filter(|issue| keys.iter().any(|k| **k == *issue.key))
            .map(|issue| (issue.key.to_string(), issue.story_points.map(f64::from)))
            .collect()
    })
}
